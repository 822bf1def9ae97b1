// Verity status page — the wallet panel: connect, lock BR (veBR), vote on gauges and withdraw credits through the
// user's wallet (EIP-1193 `window.ethereum`), with each transaction's progress and decoded errors in the page.
//
// Calldata is encoded here by a small ABI coder (static words, bytes, string, arrays) from the tables the keeper
// serves at /api/wallet: function selectors and types and every error by selector, computed from verity-abi — the
// source contracts/abi/json/ is written from — so no selector or error name is typed in this file. Loaded after
// app.js (uses its api, br, short, text helpers); it draws "your vote" on app.js's chart after each render
// (the `verity:epochs` event).
"use strict";

(() => {
  const $w = (id) => document.getElementById(id);
  const state = { info: null, account: null, lock: null, allowance: 0n, voter: null, epochs: [], dirty: false, busy: false };
  let txSeq = 0;

  // ---- ABI coder -------------------------------------------------------------------------------------------
  const strip = (h) => (h.startsWith("0x") || h.startsWith("0X") ? h.slice(2) : h);
  const word = (n) => BigInt.asUintN(256, BigInt(n)).toString(16).padStart(64, "0");
  const isDynamic = (t) => t === "bytes" || t === "string" || t.endsWith("[]");
  const utf8hex = (s) => [...new TextEncoder().encode(s)].map((b) => b.toString(16).padStart(2, "0")).join("");
  const hexutf8 = (h) => new TextDecoder().decode(new Uint8Array((h.match(/../g) || []).map((b) => parseInt(b, 16))));

  function encodeStatic(t, v) {
    if (t === "address") {
      if (!/^0x[0-9a-fA-F]{40}$/.test(v)) throw new Error(`not an address: ${v}`);
      return strip(v).toLowerCase().padStart(64, "0");
    }
    if (t === "bool") return word(v ? 1 : 0);
    if (/^bytes\d+$/.test(t)) return strip(v).toLowerCase().padEnd(64, "0");
    const m = /^(u?)int(\d*)$/.exec(t);
    if (m) {
      const bits = Number(m[2] || 256), n = BigInt(v);
      const ok = m[1] ? n >= 0n && n < 1n << BigInt(bits) : n >= -(1n << BigInt(bits - 1)) && n < 1n << BigInt(bits - 1);
      if (!ok) throw new Error(`${v} does not fit ${t}`);
      return word(n);
    }
    throw new Error(`unsupported ABI type ${t}`);
  }

  function encodeDynamic(t, v) {
    if (t.endsWith("[]")) {
      const inner = t.slice(0, -2);
      return word(v.length) + encode(v.map(() => inner), v);
    }
    const hex = t === "string" ? utf8hex(v) : strip(v);
    return word(hex.length / 2) + hex.padEnd(Math.ceil(hex.length / 64) * 64, "0");
  }

  // The ABI encoding of `values` as the tuple `types` (hex, no 0x).
  function encode(types, values) {
    let head = "", tail = "";
    types.forEach((t, i) => {
      if (isDynamic(t)) {
        head += word(types.length * 32 + tail.length / 2);
        tail += encodeDynamic(t, values[i]);
      } else {
        head += encodeStatic(t, values[i]);
      }
    });
    return head + tail;
  }

  function readWord(data, pos) {
    const w = data.slice(pos, pos + 64);
    if (w.length < 64) throw new Error("ABI data too short");
    return w;
  }

  function decodeStatic(t, w) {
    if (t === "address") return "0x" + w.slice(24);
    if (t === "bool") return BigInt("0x" + w) !== 0n;
    const b = /^bytes(\d+)$/.exec(t);
    if (b) return "0x" + w.slice(0, 2 * Number(b[1]));
    const m = /^(u?)int(\d*)$/.exec(t);
    if (m) return m[1] ? BigInt("0x" + w) : BigInt.asIntN(Number(m[2] || 256), BigInt("0x" + w));
    throw new Error(`unsupported ABI type ${t}`);
  }

  // Decodes the value of type `t` whose head is at hex offset `pos` of a tuple starting at hex offset `base`.
  function decodeAt(t, data, pos, base) {
    if (!isDynamic(t)) return decodeStatic(t, readWord(data, pos));
    const off = base + 2 * Number(BigInt("0x" + readWord(data, pos)));
    const len = Number(BigInt("0x" + readWord(data, off)));
    if (off + 64 + len * 2 > data.length && !t.endsWith("[]")) throw new Error("ABI data too short");
    if (t.endsWith("[]")) {
      if (len * 64 > data.length) throw new Error("ABI array longer than the data");
      const inner = t.slice(0, -2), start = off + 64;
      return Array.from({ length: len }, (_, k) => decodeAt(inner, data, start + k * 64, start));
    }
    const bytes = data.slice(off + 64, off + 64 + len * 2);
    return t === "string" ? hexutf8(bytes) : "0x" + bytes;
  }

  function decode(types, hex) {
    const data = strip(hex || "");
    return types.map((t, i) => decodeAt(t, data, i * 64, 0));
  }

  // ---- Decoded reverts -------------------------------------------------------------------------------------
  // One line of advice for the errors a wallet user meets here; the rest by family.
  const ADVICE = {
    GaugeNoVotingPower: "votes count the lock's power at the epoch start: a lock made during this epoch votes from the next one",
    GaugeVoteOutsideWindow: "votes open an hour after an epoch starts and close an hour before it ends",
    GaugeVoteOverflow: "the allocations must sum to at most 10,000 bps",
    GaugeVoteUnsorted: "name each gauge once",
    GaugeIsKilled: "this gauge no longer takes votes: move its share elsewhere",
    EscrowUnlockTooEarly: "a lock lasts at least a week (its end rounds down to a week)",
    EscrowUnlockTooLate: "a lock lasts at most four years",
    EscrowLockExists: "you already have a lock: add to it or extend it",
    EscrowNoLock: "lock some BR first",
    EscrowLockNotExpired: "the lock can be withdrawn once it has ended",
    EscrowLockExpired: "the lock has ended: withdraw it, then lock again",
    ERC20InsufficientBalance: "you hold less BR than that",
    ERC20InsufficientAllowance: "approve the escrow for the amount first",
  };
  const FAMILY = [
    [/NothingToWithdraw$/, "nothing is owed to this account here"],
    [/Unauthorized/, "this account may not do that"],
    [/Paused$/, "the contract is paused by governance"],
  ];

  function fmtArg(t, v) {
    if (Array.isArray(v)) return "[" + v.map((x) => fmtArg(t.slice(0, -2), x)).join(", ") + "]";
    return typeof v === "bigint" ? v.toString() : String(v);
  }

  // Revert data → { name, text, advice } from the served error table; a `bytes` argument that is itself revert
  // data (a call that failed inside another contract) is decoded in turn.
  function decodeRevert(hex, depth = 0) {
    const data = strip(hex || "");
    if (data.length < 8) return { name: "", text: "reverted without a reason", advice: "" };
    const selector = "0x" + data.slice(0, 8).toLowerCase();
    const e = state.info.errors[selector];
    if (!e) return { name: "", text: `unknown error ${selector} (0x${data})`, advice: "" };
    let shown;
    try {
      shown = decode(e.inputs, data.slice(8)).map((a, i) => {
        const inner = e.inputs[i] === "bytes" && depth < 3 && strip(a).length >= 8 && state.info.errors["0x" + strip(a).slice(0, 8)];
        return inner ? decodeRevert(a, depth + 1).text : fmtArg(e.inputs[i], a);
      });
    } catch (_) {
      shown = ["0x" + data.slice(8)];
    }
    const family = FAMILY.find(([re]) => re.test(e.name));
    return { name: e.name, text: `${e.name}(${shown.join(", ")})`, advice: ADVICE[e.name] || (family ? family[1] : "") };
  }

  // The revert data inside a provider error, wherever the wallet put it (`data`, `data.data`, `error.data`, …).
  function revertData(err) {
    const seen = new Set();
    const walk = (x) => {
      if (typeof x === "string") return /^0x[0-9a-fA-F]{8,}$/.test(x) ? x : null;
      if (!x || typeof x !== "object" || seen.has(x)) return null;
      seen.add(x);
      for (const k of ["data", "error", "originalError", "cause", "info"]) {
        const r = walk(x[k]);
        if (r) return r;
      }
      return null;
    };
    return walk(err);
  }

  // ---- Calls through the wallet ----------------------------------------------------------------------------
  const eth = (method, params = []) => window.ethereum.request({ method, params });

  function calldata(contract, fn, args) {
    const c = state.info.contracts[contract];
    if (!c) throw new Error(`the keeper serves no ${contract} address`);
    const f = c.functions[fn];
    if (!f) throw new Error(`${c.interface} has no function ${fn}`);
    return { to: c.address, data: f.selector + encode(f.inputs, args), outputs: f.outputs };
  }

  async function view(contract, fn, args = []) {
    const { to, data, outputs } = calldata(contract, fn, args);
    const out = await eth("eth_call", [{ from: state.account, to, data }, "latest"]);
    return decode(outputs, out);
  }

  async function chainTime() {
    const block = await eth("eth_getBlockByNumber", ["latest", false]);
    return Number(BigInt(block.timestamp));
  }

  class Rejected extends Error {}

  function txEntry(label) {
    const li = document.createElement("li");
    li.dataset.label = label;
    li.dataset.seq = String(++txSeq);
    $w("tx-log").prepend(li);
    return (stateName, message) => {
      li.dataset.state = stateName;
      li.className = stateName === "rejected" || stateName === "reverted" || stateName === "failed" ? "error" : "";
      li.textContent = `${label}: ${message}`;
      const status = $w("tx-status");
      status.dataset.state = stateName;
      status.dataset.label = label;
      status.className = "out " + li.className;
      status.textContent = li.textContent;
    };
  }

  function rejection(err) {
    const data = revertData(err);
    if (data) {
      const d = decodeRevert(data);
      return d.text + (d.advice ? ` — ${d.advice}` : "");
    }
    if (err && err.code === 4001) return "you declined the request in your wallet";
    return (err && err.message) || String(err);
  }

  // Simulates, sends through the wallet and follows one transaction; shows each step. Returns the receipt, or
  // throws `Rejected` after showing why.
  async function send(label, contract, fn, args) {
    const show = txEntry(label);
    const { to, data } = calldata(contract, fn, args);
    const tx = { from: state.account, to, data };
    show("simulating", "simulating…");
    try {
      await eth("eth_call", [tx, "latest"]);
    } catch (err) {
      show("rejected", "rejected: " + rejection(err));
      throw new Rejected(label);
    }
    show("signing", "confirm in your wallet…");
    let hash;
    try {
      hash = await eth("eth_sendTransaction", [tx]);
    } catch (err) {
      show("rejected", "rejected: " + rejection(err));
      throw new Rejected(label);
    }
    show("pending", `sent ${hash}, waiting for a block…`);
    for (let i = 0; i < 600; i++) {
      const receipt = await eth("eth_getTransactionReceipt", [hash]);
      if (receipt) {
        const block = Number(BigInt(receipt.blockNumber)), gas = Number(BigInt(receipt.gasUsed));
        if (BigInt(receipt.status) === 1n) {
          show("mined", `mined in block ${block} (gas ${gas.toLocaleString("en-US")}), ${hash}`);
          return receipt;
        }
        let why = "no reason given";
        try {
          await eth("eth_call", [tx, receipt.blockNumber]);
        } catch (err) {
          why = rejection(err);
        }
        show("reverted", `reverted on chain in block ${block}: ${why}`);
        throw new Rejected(label);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    show("failed", `no receipt for ${hash} after 5 minutes`);
    throw new Rejected(label);
  }

  // ---- Panel state -----------------------------------------------------------------------------------------
  function parseBr(s) {
    const m = /^\s*(\d+)(?:\.(\d{0,18}))?\s*$/.exec(s);
    if (!m) throw new Error(`"${s}" is not an amount of BR (e.g. 100 or 2.5)`);
    return BigInt(m[1]) * 10n ** 18n + BigInt((m[2] || "").padEnd(18, "0"));
  }

  const utc = (t) => new Date(t * 1000).toISOString().replace(".000Z", "Z");
  const share = (part, total) => (total > 0n ? (Number((part * 100000n) / total) / 1000).toFixed(1) + "%" : "–");

  function epochAt(t) {
    const c = state.info.calendar;
    return c && t >= c.genesis ? Math.floor((t - c.genesis) / c.epoch_len) : null;
  }

  async function refreshWallet() {
    if (!state.account || state.busy) return;
    const c = state.info.calendar, me = state.account;
    const now = await chainTime();
    const [[balance], [allowance], [amount, end], [power]] = await Promise.all([
      view("token", "balanceOf", [me]), view("token", "allowance", [me, state.info.contracts.escrow.address]),
      view("escrow", "locked", [me]), view("escrow", "balanceOf", [me]),
    ]);
    state.lock = { amount, end: Number(end), now };
    state.allowance = allowance;
    $w("w-balance").textContent = br(balance);
    $w("w-locked").textContent = br(amount);
    $w("w-lock-end").textContent = amount > 0n ? utc(Number(end)) : "no lock";
    $w("w-power").textContent = br(power);
    const e = epochAt(now);
    if (e != null) {
      const start = c.genesis + e * c.epoch_len;
      const [atStart] = await view("escrow", "balanceOfAt", [me, start]);
      $w("w-power-start").textContent = br(atStart);
      const seasonEnd = (Math.floor(e / c.season_len) + 1) * c.season_len;
      $w("vote-window").textContent =
        `epoch ${e} (season ${Math.floor(e / c.season_len)}): votes open ${utc(start + c.vote_margin)} – ` +
        `${utc(start + c.epoch_len - c.vote_margin)}; the season ends at epoch ${seasonEnd} ` +
        `(${utc(c.genesis + seasonEnd * c.epoch_len)}), when every vote resets. Your vote counts your power at ` +
        `this epoch's start: ${br(atStart)}.`;
      $w("vote-window").dataset.epoch = e;
    }
    state.voter = await api("/api/voters/" + me);
    await renderVoteForm();
    renderMyVotes();
    markChart();
    await renderCredits(now);
  }

  async function renderVoteForm() {
    const [gauges] = await view("gauge", "gauges");
    const current = new Map(((state.voter.current || {}).allocations || []).map((a) => [a.gauge.toLowerCase(), a.bps]));
    const cast = state.voter.current ? `current allocation (cast in epoch ${state.voter.current.epoch})` : "no vote this season yet";
    $w("vote-current").textContent = cast;
    const rows = $w("vote-rows");
    const known = [...rows.querySelectorAll("input")].map((i) => i.dataset.gauge);
    if (state.dirty && known.length === gauges.length) return;
    rows.replaceChildren(...gauges.map((g) => {
      const tr = document.createElement("tr");
      tr.appendChild(text("td", g, "mono"));
      const td = document.createElement("td");
      const input = document.createElement("input");
      input.type = "number"; input.min = "0"; input.max = "10000"; input.step = "1";
      input.dataset.gauge = g;
      input.setAttribute("data-testid", "vote-bps-" + g.toLowerCase());
      input.value = current.get(g.toLowerCase()) || "0";
      input.addEventListener("input", () => { state.dirty = true; voteSum(); });
      td.appendChild(input);
      tr.appendChild(td);
      tr.appendChild(text("td", current.has(g.toLowerCase()) ? `now ${current.get(g.toLowerCase())} bps` : "", "muted"));
      return tr;
    }));
    voteSum();
  }

  function voteSum() {
    const sum = [...$w("vote-rows").querySelectorAll("input")].reduce((a, i) => a + (Number(i.value) || 0), 0);
    $w("vote-sum").textContent = `${sum.toLocaleString("en-US")} of 10,000 bps` + (sum === 10000 ? "" : sum < 10000 ? " (the rest of your power stays unused)" : " (too much)");
    return sum;
  }

  function renderMyVotes() {
    const totals = new Map(state.epochs.map((e) => [e.epoch, BigInt(e.total_weight)]));
    $w("my-votes").replaceChildren(...state.voter.epochs.slice().reverse().map((v) => {
      const tr = document.createElement("tr");
      const total = totals.get(v.epoch) || 0n;
      for (const [value, cls] of [
        [v.epoch, "num"], [v.cast_in, "num"], [v.weight, "num"], [share(BigInt(v.weight), total), "num"],
        [v.gauges.map(([g, w]) => `${short(g)} ${share(BigInt(w), BigInt(v.weight))}`).join(", ")],
      ]) tr.appendChild(text("td", String(value), cls));
      tr.dataset.epoch = v.epoch;
      tr.dataset.weight = v.weight;
      return tr;
    }));
  }

  // Marks, above each finalized epoch's bar of app.js's chart, the weight your vote gave it.
  function markChart() {
    const svg = document.querySelector("#chart svg");
    if (!svg || !state.voter) return;
    svg.querySelectorAll("[data-my-epoch]").forEach((n) => n.remove());
    const totals = new Map(state.epochs.map((e) => [e.epoch, BigInt(e.total_weight)]));
    for (const v of state.voter.epochs) {
      const bar = svg.querySelector(`rect[data-epoch="${v.epoch}"]`);
      if (!bar) continue;
      const ns = "http://www.w3.org/2000/svg";
      const dot = document.createElementNS(ns, "circle");
      dot.setAttribute("cx", Number(bar.getAttribute("x")) + Number(bar.getAttribute("width")) / 2);
      dot.setAttribute("cy", 5);
      dot.setAttribute("r", 4);
      dot.setAttribute("fill", "#101828");
      dot.dataset.myEpoch = v.epoch;
      dot.dataset.weight = v.weight;
      const title = document.createElementNS(ns, "title");
      title.textContent = `epoch ${v.epoch}: your vote, weight ${v.weight} (${share(BigInt(v.weight), totals.get(v.epoch) || 0n)} of the epoch)`;
      dot.appendChild(title);
      svg.appendChild(dot);
    }
  }

  async function renderCredits(now) {
    const rows = [];
    const add = (what, owed, label, contract, fn, note) => {
      const tr = document.createElement("tr");
      tr.appendChild(text("td", what));
      tr.appendChild(text("td", owed, "num"));
      const td = document.createElement("td");
      if (fn) {
        const b = document.createElement("button");
        b.type = "button"; b.textContent = "Withdraw";
        b.setAttribute("data-testid", "withdraw-" + contract);
        b.addEventListener("click", () => act(() => send(label, contract, fn, [])));
        td.appendChild(b);
      } else td.appendChild(text("span", note || "", "muted"));
      tr.appendChild(td);
      tr.dataset.contract = contract;
      rows.push(tr);
    };
    if (state.info.contracts.settlement) {
      const [credit] = await view("settlement", "credit", [state.account]);
      add("settlement (fees earned, refunds)", br(credit) + " ETH", "withdraw settlement", "settlement", credit > 0n ? "withdraw" : null, "nothing owed");
      rows[rows.length - 1].dataset.owed = credit.toString();
    }
    if (state.info.contracts.registry) {
      // The registry keeps no view of refunds: simulate the withdrawal to learn whether one is owed.
      let owed = true;
      try { await view("registry", "withdrawRefund"); } catch (_) { owed = false; }
      add("registry (refunded fees)", owed ? "owed" : "0.00", "withdraw registry refund", "registry", owed ? "withdrawRefund" : null, "nothing owed");
    }
    const lock = state.lock;
    const expired = lock.amount > 0n && lock.end <= now;
    add("escrow (expired lock)", expired ? br(lock.amount) + " BR" : "0.00", "withdraw lock", "escrow", expired ? "withdraw" : null,
      lock.amount > 0n ? `locked until ${utc(lock.end)}` : "no lock");
    $w("credits").replaceChildren(...rows);
  }

  // Runs one user action: no refresh while it runs, one refresh after.
  async function act(fn) {
    state.busy = true;
    try {
      await fn();
    } catch (e) {
      if (!(e instanceof Rejected)) txEntry("error")("failed", e.message);
    } finally {
      state.busy = false;
      state.dirty = false;
      refreshWallet().catch((e) => { $w("wallet-account").textContent += " — " + e.message; });
    }
  }

  // ---- Actions ---------------------------------------------------------------------------------------------
  async function connect() {
    if (!window.ethereum) {
      $w("wallet-account").textContent = "no wallet found: install an EIP-1193 wallet (e.g. MetaMask) or open this page in a wallet's browser";
      return;
    }
    const accounts = await window.ethereum.request({ method: "eth_requestAccounts" });
    if (!accounts.length) throw new Error("the wallet shared no account");
    const chain = Number(BigInt(await eth("eth_chainId")));
    if (chain !== state.info.chain_id) {
      try {
        await eth("wallet_switchEthereumChain", [{ chainId: "0x" + state.info.chain_id.toString(16) }]);
      } catch (e) {
        $w("wallet-account").textContent = `the wallet is on chain ${chain}; the keeper follows chain ${state.info.chain_id}: switch networks`;
        return;
      }
    }
    state.account = accounts[0];
    $w("wallet-account").textContent = `${accounts[0]} on chain ${state.info.chain_id}`;
    $w("wallet-account").dataset.account = accounts[0].toLowerCase();
    $w("wallet-body").hidden = false;
    document.body.dataset.wallet = "connected";
    await refreshWallet();
  }

  async function lock(ev) {
    ev.preventDefault();
    await act(async () => {
      const amountText = $w("lock-amount").value.trim(), weeksText = $w("lock-weeks").value.trim();
      const amount = amountText ? parseBr(amountText) : 0n;
      const weeks = weeksText ? Number(weeksText) : 0;
      if (!Number.isInteger(weeks) || weeks < 0) throw new Error(`"${weeksText}" is not a number of weeks`);
      const now = await chainTime();
      const unlock = now + weeks * state.info.lock_week;
      const escrow = state.info.contracts.escrow.address;
      const [[allowance], [locked]] = await Promise.all([
        view("token", "allowance", [state.account, escrow]), view("escrow", "locked", [state.account]),
      ]);
      if (amount > 0n && allowance < amount) await send("approve", "token", "approve", [escrow, amount]);
      if (locked === 0n) {
        await send("lock", "escrow", "createLock", [amount, unlock]);
      } else {
        if (amount > 0n) await send("lock more", "escrow", "increaseAmount", [amount]);
        if (weeks > 0) await send("extend lock", "escrow", "increaseUnlockTime", [unlock]);
      }
    });
  }

  async function vote(ev) {
    ev.preventDefault();
    await act(async () => {
      const picks = [...$w("vote-rows").querySelectorAll("input")]
        .map((i) => [i.dataset.gauge, Number(i.value) || 0])
        .filter(([, bps]) => bps > 0)
        .sort(([a], [b]) => (BigInt(a) < BigInt(b) ? -1 : 1)); // the controller wants gauges ascending
      await send("vote", "gauge", "vote", [picks.map(([g]) => g), picks.map(([, b]) => b)]);
    });
  }

  // app.js rendered the epochs (and replaced the chart): remember them and mark your votes again.
  document.addEventListener("verity:epochs", (ev) => {
    state.epochs = ev.detail;
    if (state.voter) {
      renderMyVotes();
      markChart();
    }
  });

  async function init() {
    try {
      state.info = await api("/api/wallet");
    } catch (e) {
      $w("wallet-account").textContent = "wallet panel unavailable: " + e.message;
      return;
    }
    if (!state.info.contracts.gauge || !state.info.contracts.escrow || !state.info.contracts.token) {
      $w("wallet-account").textContent = "this keeper follows no gauge controller (--gauge): nothing to lock or vote on";
      return;
    }
    $w("wallet-connect").addEventListener("click", () => connect().catch((e) => {
      $w("wallet-account").textContent = "could not connect: " + rejection(e);
    }));
    $w("lock-form").addEventListener("submit", lock);
    $w("vote-form").addEventListener("submit", vote);
    if (window.ethereum && window.ethereum.on) {
      window.ethereum.on("accountsChanged", (a) => { if (state.account) { state.account = a[0] || null; state.dirty = false; refreshWallet(); } });
      window.ethereum.on("chainChanged", () => window.location.reload());
    }
    setInterval(() => refreshWallet().catch(() => {}), 5000);
    document.body.dataset.walletReady = "1";
  }

  init();
})();
