async function agent() {
  await codemode.fetch({ max_length: 10 }); // TS2345
  await codemode.fetch({ url: "https://example.com", raw: "yes" }); // TS2322
  await codemode.fetch("https://example.com"); // TS2345
}
