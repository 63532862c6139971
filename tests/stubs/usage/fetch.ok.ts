async function agent() {
  const page = await codemode.fetch({ url: "https://example.com", max_length: 2000, raw: false });
  const more = await codemode.fetch({ url: "https://example.com", start_index: 2000 });
  return [page, more];
}
