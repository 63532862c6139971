async function agent() {
  const file = await codemode.read_text_file({ path: "/data/notes.md", head: 20 });
  const lines: string[] = file.content.split("\n");
  await codemode.write_file({ path: "/data/out.md", content: lines.join("\n") });
  await codemode.edit_file({ path: "/data/out.md", edits: [{ oldText: "a", newText: "b" }], dryRun: true });
  const media = await codemode.read_media_file({ path: "/data/logo.png" });
  for (const block of media.content) {
    if (block.type === "resource") {
      console.log(block.resource.uri, block.resource.blob.length);
    } else {
      console.log(block.mimeType, block.data.length);
    }
  }
  await codemode.search_files({ path: "/data", pattern: "*.md", excludePatterns: ["node_modules"] });
  const dirs = await codemode.list_allowed_directories();
  return dirs.content;
}
