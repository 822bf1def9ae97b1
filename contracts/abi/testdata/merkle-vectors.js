// Reference Merkle vectors from @openzeppelin/merkle-tree for Verity's signed-receipt leaves.
//
//   npm install --prefix .tools @openzeppelin/merkle-tree      (once, from the repo root; .tools is gitignored)
//   node contracts/abi/testdata/merkle-vectors.js              rewrites merkle-vectors.json next to this file
//   node contracts/abi/testdata/merkle-vectors.js in.json      prints the tree of the leaves in in.json
//                                                              ({"values": [[12 fields], …]}) as JSON on stdout
//
// The leaf encoding must equal verity_abi::settlement::LEAF_ENCODING.
'use strict';
const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

const tools = process.env.VERITY_TOOLS || path.join(__dirname, '..', '..', '..', '.tools');
const requireTool = createRequire(path.join(tools, 'package.json'));
const { StandardMerkleTree } = requireTool('@openzeppelin/merkle-tree');
const { keccak256 } = requireTool('ethereum-cryptography/keccak');

const LEAF_ENCODING = [
  'bytes32', 'uint256', 'bytes32', 'bytes32', 'address', 'address', 'uint256', 'uint8', 'uint64', 'uint8',
  'bytes32', 'bytes32',
];

// Tree of `values` with every leaf's hash and proof, in the order given.
function describe(values) {
  const tree = StandardMerkleTree.of(values, LEAF_ENCODING);
  const dump = tree.dump();
  return {
    root: tree.root,
    tree: dump.tree,
    leaves: values.map((value, i) => ({
      value,
      hash: tree.leafHash(value),
      proof: tree.getProof(i),
    })),
  };
}

// Deterministic pseudo-random 32-byte hex from a label.
function h(label) {
  return '0x' + Buffer.from(keccak256(Buffer.from(label))).toString('hex');
}

function sampleLeaf(i) {
  return [
    h(`request-${i}`),
    String(1 + (i % 3)),
    h(`input-${i}`),
    h(`output-${i}`),
    '0x' + h(`payer-${i % 4}`).slice(26),
    '0x' + h(`node-${i % 2}`).slice(26),
    String(BigInt(i + 1) * 10n ** 15n),
    String(i % 2),
    String(1767225600 + i * 61),
    String(27 + (i % 2)),
    h(`r-${i}`),
    h(`s-${i}`).replace(/^0x[89a-f]/, '0x1'),
  ];
}

if (process.argv[2]) {
  const input = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  process.stdout.write(JSON.stringify(describe(input.values)) + '\n');
} else {
  const trees = [1, 2, 3, 5, 8, 13].map(n => describe(Array.from({ length: n }, (_, i) => sampleLeaf(i))));
  const out = {
    generator: '@openzeppelin/merkle-tree ' + requireTool('@openzeppelin/merkle-tree/package.json').version,
    leafEncoding: LEAF_ENCODING,
    trees,
  };
  fs.writeFileSync(path.join(__dirname, 'merkle-vectors.json'), JSON.stringify(out, null, 1) + '\n');
}
