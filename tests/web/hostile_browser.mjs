// Loads a homepage whose config names are hostile in Debian's headless chromium and prints one
// JSON object: any dialog that fired, console problems, and the text the page shows where the
// names go (it should be the names, literally). Usage: node hostile_browser.mjs URL
import { chromium } from "playwright-core";

const [url] = process.argv.slice(2);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
});
try {
  const page = await browser.newPage();
  const dialogs = [];
  const problems = [];
  page.on("dialog", async (d) => {
    dialogs.push(d.message());
    await d.dismiss();
  });
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(m.text());
  });
  const response = await page.goto(url, { waitUntil: "load" });
  // Let anything an injected element would do (an image's onerror) happen first.
  await page.waitForTimeout(500);
  const shown = await page.evaluate(() => ({
    title: document.title,
    name: document.querySelector("#portal-name").textContent,
    description: document.querySelector(".lead").textContent,
    servers: [...document.querySelectorAll(".srv-name")].map((e) => e.textContent),
    others: [...document.querySelectorAll("footer a[href^='/p/']")].map((a) => a.textContent),
    images: document.images.length,
    scripts: [...document.scripts].map((s) => s.getAttribute("src")),
  }));
  console.log(JSON.stringify({ status: response.status(), dialogs, problems, ...shown }));
} finally {
  await browser.close();
}
