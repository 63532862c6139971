// Screenshots the homepage as a newcomer first sees it, for the README.
// Usage: node scripts/homepage_screenshot.mjs URL OUT.png [WIDTH]
// Chromium: $CHROMIUM_PATH or /usr/bin/chromium, driven by npm playwright-core.
import { chromium } from "playwright-core";

const [url, out, width = "1000"] = process.argv.slice(2);
if (!url || !out) {
  console.error("usage: node scripts/homepage_screenshot.mjs URL OUT.png [WIDTH]");
  process.exit(2);
}

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
try {
  const context = await browser.newContext({
    viewport: { width: Number(width), height: 800 },
    deviceScaleFactor: 1,
    colorScheme: "light",
  });
  const page = await context.newPage();
  const response = await page.goto(url);
  if (response.status() !== 200) throw new Error(`${url} answered ${response.status()}`);
  // One client's setup opened, as a reader would after picking theirs.
  await page.locator("summary", { hasText: "Claude Code" }).click();
  await page.screenshot({ path: out, fullPage: true });
  console.log(JSON.stringify({ url, out, title: await page.title() }));
} finally {
  await browser.close();
}
