// The inspector page in a real browser (Debian's chromium driven by playwright-core), against a real server.
// Usage: node inspector.e2e.js <server url> <screenshot path>
// Prints one JSON summary line; exits non-zero on any failure.
const { chromium } = require('playwright-core');
const [url, screenshot] = process.argv.slice(2);

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const summary = {};
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(20000);
    await page.goto(url);
    await page.fill('#new-title', 'browser test');
    await page.click('#create');
    await page.waitForSelector('#detail:not([hidden])');
    await page.waitForFunction(() => document.querySelector('#socket-state').textContent === 'live');
    summary.statusBefore = (await page.textContent('#status')).trim();

    await page.fill('#message', 'hello from the browser');
    await page.click('#send');
    await page.waitForFunction(() => [...document.querySelectorAll('#events .text')].some((t) => t.textContent.startsWith('You said')));
    await page.waitForFunction(() => document.querySelector('#status').textContent === 'finished');
    summary.statusAfter = (await page.textContent('#status')).trim();
    summary.kinds = await page.$$eval('#events .kind', (els) => els.map((e) => e.textContent));
    await page.screenshot({ path: screenshot, fullPage: true });

    // A dropped connection: the page resumes with after_event_id and shows nothing twice.
    const firstUrl = await page.evaluate(() => state.socket.url);
    await page.evaluate(() => state.socket.close(4000, 'dropped by the test'));
    await page.waitForFunction((old) => state.socket && state.socket.url !== old
      && document.querySelector('#socket-state').textContent === 'live', firstUrl);
    summary.resumedWith = await page.evaluate(() => state.socket.url.includes('after_event_id=') ? 'after_event_id' : 'resend_all');
    await page.fill('#message', 'second message');
    await page.click('#send');
    await page.waitForFunction(() => [...document.querySelectorAll('#events .text')].filter((t) => t.textContent.startsWith('You said')).length === 2);
    await page.waitForFunction(() => document.querySelector('#status').textContent === 'finished');
    const before = await page.$$eval('#events li', (els) => els.map((e) => e.dataset.id));
    summary.uniqueBeforeReload = new Set(before).size === before.length;

    await page.reload();
    await page.waitForSelector('#detail:not([hidden])');
    await page.waitForFunction((n) => document.querySelectorAll('#events li').length >= n, before.length);
    await page.waitForFunction(() => document.querySelector('#socket-state').textContent === 'live');
    const after = await page.$$eval('#events li', (els) => els.map((e) => e.dataset.id));
    summary.sameHistoryAfterReload = JSON.stringify(before) === JSON.stringify(after);
    summary.uniqueIds = new Set(after).size === after.length;
    summary.events = after.length;
    summary.ok = true;
  } catch (e) {
    summary.ok = false;
    summary.error = String(e);
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(summary) + '\n');
  process.exit(summary.ok ? 0 : 1);
})();
