async function agent() {
  await codemode.read_text_file({ file: "/data/notes.md" }); // TS2353
  await codemode.read_text_file({ path: "/data/notes.md", head: "20" }); // TS2322
  await codemode.edit_file({ path: "/a", edits: [{ oldText: "a" }] }); // TS2741
  await codemode.move_file({ source: "/a" }); // TS2345
  const file = await codemode.read_text_file({ path: "/a" });
  file.text.split("\n"); // TS2339
  await codemode.search_files({ path: "/", pattern: "*", excludePatterns: "x" }); // TS2322
}
