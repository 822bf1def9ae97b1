// Prints the runtime bytecode (hex, no 0x) of one of devnode's Solidity predeploys, compiled by solcjs with the
// settings the committed `.hex` files were made with; every `.sol` file of this folder is a source (imports).
// Usage: node compile.cjs <path to the solc npm package> <Contract.sol>
const fs = require("fs");
const path = require("path");
const solc = require(path.resolve(process.argv[2]));
const file = process.argv[3];
const name = path.basename(file, ".sol");
const input = {
  language: "Solidity",
  sources: Object.fromEntries(
    fs
      .readdirSync(path.dirname(file))
      .filter((f) => f.endsWith(".sol"))
      .map((f) => [f, { content: fs.readFileSync(path.join(path.dirname(file), f), "utf8") }]),
  ),
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    metadata: { bytecodeHash: "none", appendCBOR: false },
    outputSelection: { "*": { "*": ["evm.deployedBytecode.object"] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (out.errors || []).filter((e) => e.severity === "error");
if (errors.length) {
  console.error(errors.map((e) => e.formattedMessage).join("\n"));
  process.exit(1);
}
process.stdout.write(out.contracts[name + ".sol"][name].evm.deployedBytecode.object + "\n");
