// Drives the keeper's status page in headless Chromium (playwright-core, no browser download) and prints what a
// user sees as one JSON line; tests/it/status_page.rs compares it with the chain.
//   node tests/browser/status_page.cjs <page url> <version id> <request id or "">
// Env: PLAYWRIGHT_CORE (module path, default "playwright-core"), CHROMIUM_BIN (default /usr/bin/chromium).
"use strict";

const { chromium } = require(process.env.PLAYWRIGHT_CORE || "playwright-core");

async function main() {
  const [url, versionId, requestId] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_BIN || "/usr/bin/chromium",
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    await page.goto(url);
    await page.waitForSelector('body[data-loaded="1"]', { timeout: 20000 });
    const read = async (id) => (await page.textContent(`[data-testid="${id}"]`)).trim();
    const out = {};
    for (const id of ["block", "submitted", "registered", "rejected", "awaiting-storage",
      "awaiting-registration", "requests", "settled", "refunded", "batches", "batches-final", "batches-voided"]) {
      out[id] = await read(id);
    }
    out.epochRows = await page.locator("#epochs tr").count();
    out.epochs = await page.$$eval("#epochs tr", (rows) => rows.map((r) => [...r.children].map((c) => c.textContent)));
    out.chartBars = await page.locator("#chart rect").count();
    out.nodeRows = await page.locator("#nodes tr").count();
    // The routing table: per node, its address (row attribute) and cells (share, answered, attempts, retries, …).
    out.routing = await page.$$eval("#routing tr", (rows) =>
      rows.map((r) => [r.dataset.node, ...[...r.children].slice(1).map((c) => c.textContent)]));
    out.recentRows = await page.locator("#recent tr").count();

    // A lookup through the form, as a user types it.
    await page.fill('[data-testid="version-input"]', versionId);
    await page.click('[data-testid="version-lookup"]');
    await page.waitForFunction(() => document.getElementById("version-out").dataset.status, null, { timeout: 10000 });
    out.versionStatus = await page.getAttribute("#version-out", "data-status");
    out.versionText = await read("version-out");

    // Everything so far loaded without a script error or a failed request.
    out.errors = [...errors];
    // A bad id answers with a clear error, not a broken page (its 400 is expected).
    await page.fill('[data-testid="version-input"]', "not-a-number");
    await page.click('[data-testid="version-lookup"]');
    await page.waitForFunction(() => document.getElementById("version-out").dataset.status === "error", null, { timeout: 10000 });
    out.badLookup = await read("version-out");

    if (requestId) {
      await page.fill('[data-testid="request-input"]', requestId);
      await page.click('[data-testid="request-lookup"]');
      await page.waitForFunction(() => document.getElementById("request-out").dataset.status, null, { timeout: 10000 });
      out.requestStatus = await page.getAttribute("#request-out", "data-status");
      out.requestText = await read("request-out");
    }
    out.errorsAfter = errors.filter((e) => !e.includes("400 (Bad Request)"));
    console.log(JSON.stringify(out));
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(String(e && e.stack || e));
  process.exit(1);
});
