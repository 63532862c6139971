// Drives the homepage in Debian's headless chromium with playwright-core and prints one JSON
// object with what a person would see. Usage: node homepage_browser.mjs URL SCREENSHOT.png
import { chromium } from "playwright-core";

const [url, screenshot] = process.argv.slice(2);
const COPIED_TIMEOUT_MS = 5000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
  ],
});

async function clickCopy(page, target) {
  const button = page.locator(`button[data-target="${target}"]`);
  await button.click();
  await page.waitForFunction(
    (t) => document.querySelector(`button[data-target="${t}"]`).textContent === "Copied",
    target,
    { timeout: COPIED_TIMEOUT_MS },
  );
  return page.evaluate(() => navigator.clipboard.readText());
}

try {
  const context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], {
    origin: new URL(url).origin,
  });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(m.text());
  });

  const response = await page.goto(url);
  const out = { status: response.status(), problems };
  out.title = await page.textContent("#portal-name");
  out.servers = await page.$$eval("li.server", (items) =>
    items.map((li) => ({
      id: li.dataset.server,
      pill: li.querySelector(".pill").textContent,
      meta: li.querySelector(".srv-meta").textContent,
      cause: li.querySelector(".cause")?.textContent ?? null,
      visible: li.offsetParent !== null,
    })),
  );
  out.shownUrl = await page.textContent("#url-codemode");
  out.copiedUrl = await clickCopy(page, "url-codemode");

  // The picker swaps the URL inside every snippet; copy the Claude Code command.
  await page.check('input[name="surface"][value="minimize_tools"]');
  await page.locator("summary", { hasText: "Claude Code" }).click();
  out.copiedCommand = await clickCopy(page, "snippet-1");
  await page.locator("summary", { hasText: "Claude Code" }).click();

  // Without the async clipboard API the fallback (execCommand) still copies.
  const bare = await context.newPage();
  await bare.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, "clipboard", { get: () => undefined });
  });
  await bare.goto(url);
  await bare.locator('button[data-target="url-all"]').click();
  await bare.waitForFunction(
    () => document.querySelector('button[data-target="url-all"]').textContent === "Copied",
    null,
    { timeout: COPIED_TIMEOUT_MS },
  );
  await bare.close();
  out.fallbackCopied = await page.evaluate(() => navigator.clipboard.readText());

  // The screenshot a reader of the README sees: first client opened, picker on default.
  await page.check('input[name="surface"][value="all"]');
  await page.locator("summary", { hasText: "Claude Desktop" }).click();
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });

  // Narrow screens: the page does not overflow horizontally, and no endpoint URL or open
  // snippet needs scrolling sideways (they wrap). Reports, per width, what would scroll.
  out.narrow = {};
  for (const width of [420, 380]) {
    await page.setViewportSize({ width, height: 800 });
    out.narrow[width] = await page.evaluate(() => {
      const root = document.documentElement;
      const scrolled = [...document.querySelectorAll(".copyrow code, details[open] pre")]
        .filter((el) => el.scrollWidth > el.clientWidth)
        .map((el) => el.id || el.querySelector("code")?.id || el.tagName);
      return { pageOverflows: root.scrollWidth > root.clientWidth, scrolled };
    });
  }
  console.log(JSON.stringify(out));
} finally {
  await browser.close();
}
