// Drives the status page's wallet panel in headless Chromium (playwright-core) with an injected EIP-1193 test
// provider that forwards every request to devnode's JSON-RPC, so transactions are signed by devnode's unlocked
// dev account: connect → lock → a vote that the controller refuses (no power yet: its decoded reason) → the next
// epoch's vote → the keeper finalizes the epoch → the chart marks the vote → withdraw the settlement credit.
// Chain time is moved with evm_increaseTime (devnode, in-process in `verity dev`).
// Prints what the page showed as one JSON line; tests/it/wallet_page.rs checks it against the chain.
//   node tests/browser/wallet_page.cjs <page url> <rpc url> <account> <BR to lock> <weeks>
// Env: PLAYWRIGHT_CORE (module path, default "playwright-core"), CHROMIUM_BIN (default /usr/bin/chromium).
"use strict";

const { chromium } = require(process.env.PLAYWRIGHT_CORE || "playwright-core");

const [url, rpcUrl, account, lockBr, lockWeeks] = process.argv.slice(2);
let rpcId = 0;

// One JSON-RPC call to devnode: { result } or { error: { code, message, data } }.
async function rpcRaw(method, params) {
  const res = await fetch(rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: ++rpcId, method, params: params || [] }),
  });
  const body = await res.json();
  return body.error ? { error: body.error } : { result: body.result };
}

async function rpc(method, params) {
  const r = await rpcRaw(method, params);
  if (r.error) throw new Error(`${method}: ${r.error.message}`);
  return r.result;
}

async function json(path) {
  const res = await fetch(url + path);
  return res.json();
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function chainTime() {
  return Number(BigInt((await rpc("eth_getBlockByNumber", ["latest", false])).timestamp));
}

async function travelTo(t) {
  const now = await chainTime();
  if (t > now) {
    await rpc("evm_increaseTime", [t - now]);
    await rpc("evm_mine", []);
  }
}

// Waits until the keeper has finalized epoch `e` and its index shows it.
async function finalized(e) {
  for (let i = 0; i < 300; i++) {
    const epochs = await json("api/epochs");
    if (epochs.some((x) => x.epoch === e)) return;
    await sleep(200);
  }
  throw new Error(`the keeper did not finalize epoch ${e} within a minute`);
}

// The EIP-1193 provider the page sees as window.ethereum: every request goes to devnode through the exposed
// `__devnodeRpc`; the account it shares is `account` (one of devnode's unlocked dev accounts).
function installProvider(acct) {
  const listeners = {};
  window.ethereum = {
    isVerityTestProvider: true,
    async request({ method, params }) {
      if (method === "eth_requestAccounts" || method === "eth_accounts") {
        const r = await window.__devnodeRpc("eth_accounts", []);
        const all = (r.result || []).map((a) => a.toLowerCase());
        if (!all.includes(acct.toLowerCase())) throw Object.assign(new Error("devnode holds no key for " + acct), { code: 4100 });
        return [acct];
      }
      if (method === "wallet_switchEthereumChain") throw Object.assign(new Error("unsupported"), { code: 4200 });
      const r = await window.__devnodeRpc(method, params || []);
      if (r.error) throw Object.assign(new Error(r.error.message), { code: r.error.code, data: r.error.data });
      return r.result;
    },
    on(event, fn) { (listeners[event] = listeners[event] || []).push(fn); },
    removeListener(event, fn) { listeners[event] = (listeners[event] || []).filter((f) => f !== fn); },
  };
}

async function main() {
  const info = await json("api/wallet");
  const cal = info.calendar;
  const start = (e) => cal.genesis + e * cal.epoch_len;
  // Into the next epoch's vote window (E0), with the epoch before it finalized.
  const e0 = Math.floor((await chainTime() - cal.genesis) / cal.epoch_len) + 1;
  await travelTo(start(e0) + cal.vote_margin + 60);
  await finalized(e0 - 1);

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_BIN || "/usr/bin/chromium",
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  const out = { account, e0 };
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    await page.exposeFunction("__devnodeRpc", rpcRaw);
    await page.addInitScript(installProvider, account);
    await page.goto(url);
    await page.waitForSelector('body[data-loaded="1"][data-wallet-ready="1"]', { timeout: 20000 });
    const read = async (id) => (await page.textContent(`[data-testid="${id}"]`)).trim();

    // Waits for the transaction `label` started after `seq` to reach a final state; returns it.
    let seq = 0;
    const settle = async (label) => {
      const handle = await page.waitForFunction(([l, after]) => {
        const li = [...document.querySelectorAll("#tx-log li")].find((x) => x.dataset.label === l && Number(x.dataset.seq) > after);
        return li && ["mined", "rejected", "reverted", "failed"].includes(li.dataset.state)
          ? { state: li.dataset.state, text: li.textContent, seq: Number(li.dataset.seq) } : null;
      }, [label, seq], { timeout: 60000 });
      const r = await handle.jsonValue();
      seq = r.seq;
      return r;
    };
    // Sets the vote form: all bps on `gauge` (the others 0), once the form shows the epoch `e`.
    const fillVote = async (e) => {
      await page.waitForFunction((x) => document.getElementById("vote-window").dataset.epoch === String(x) &&
        document.querySelectorAll("#vote-rows input").length > 0, e, { timeout: 20000 });
      const gauges = await page.$$eval("#vote-rows input", (xs) => xs.map((x) => x.dataset.gauge));
      const gauge = gauges[gauges.length - 1];
      for (const g of gauges) await page.fill(`[data-testid="vote-bps-${g.toLowerCase()}"]`, g === gauge ? "10000" : "0");
      return gauge;
    };

    await page.click('[data-testid="wallet-connect"]');
    await page.waitForFunction(() => document.getElementById("wallet-account").dataset.account, null, { timeout: 20000 });
    out.connected = await page.getAttribute("#wallet-account", "data-account");
    await page.waitForFunction(() => document.getElementById("w-balance").textContent !== "…", null, { timeout: 20000 });
    out.balanceBefore = await read("w-balance");

    // Lock: approve + createLock through the wallet.
    await page.fill('[data-testid="lock-amount"]', lockBr);
    await page.fill('[data-testid="lock-weeks"]', lockWeeks);
    await page.click('[data-testid="lock-submit"]');
    out.approve = await settle("approve");
    out.lock = await settle("lock");
    await page.waitForFunction(() => document.getElementById("w-locked").textContent !== "0.00", null, { timeout: 20000 });
    out.locked = await read("w-locked");

    // A vote in the epoch the lock was made in: the controller counts power at the epoch start — none.
    out.rejectedGauge = await fillVote(e0);
    await page.click('[data-testid="vote-submit"]');
    out.rejected = await settle("vote");

    // The next epoch's window: the vote counts.
    const e1 = e0 + 1;
    out.e1 = e1;
    await travelTo(start(e1) + cal.vote_margin + 60);
    await finalized(e0);
    out.votedGauge = await fillVote(e1);
    await page.click('[data-testid="vote-submit"]');
    out.vote = await settle("vote");
    await page.waitForFunction(() => /cast in epoch/.test(document.getElementById("vote-current").textContent), null, { timeout: 20000 });
    out.voteCurrent = await read("vote-current");

    // The epoch ends; the keeper finalizes it; the chart marks the vote.
    await travelTo(start(e1 + 1) + 60);
    await finalized(e1);
    await page.waitForSelector(`#chart circle[data-my-epoch="${e1}"]`, { timeout: 30000 });
    out.marker = await page.$eval(`#chart circle[data-my-epoch="${e1}"]`, (c) => ({ weight: c.dataset.weight, title: c.textContent }));
    out.bars = await page.$$eval(`#chart rect[data-epoch="${e1}"]`, (rs) => rs.map((r) => ({ gauge: r.dataset.gauge, weight: r.dataset.weight })));
    out.myVote = await page.$eval(`#my-votes tr[data-epoch="${e1}"]`, (tr) => ({ weight: tr.dataset.weight, cells: [...tr.children].map((c) => c.textContent) }));

    // Withdraw the settlement credit when there is one.
    out.creditBefore = await page.getAttribute('#credits tr[data-contract="settlement"]', "data-owed");
    if (out.creditBefore && out.creditBefore !== "0") {
      await page.click('[data-testid="withdraw-settlement"]');
      // The keeper may settle more of the node's requests meanwhile: the test checks the credit at the
      // withdrawal's block, not what the page shows later.
      out.withdraw = await settle("withdraw settlement");
    }
    out.txLog = await page.$$eval("#tx-log li", (xs) => xs.map((x) => x.textContent));
    out.errors = errors;
    console.log(JSON.stringify(out));
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(String(e && e.stack || e));
  process.exit(1);
});
