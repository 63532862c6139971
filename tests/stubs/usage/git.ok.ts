async function agent() {
  const repo_path = "/srv/repo";
  const status = await codemode.git_status({ repo_path });
  await codemode.git_add({ repo_path, files: ["README.md"] });
  await codemode.git_commit({ repo_path, message: "docs: readme" });
  await codemode.git_log({ repo_path, max_count: 5, start_timestamp: null });
  await codemode.git_diff({ repo_path, target: "main", context_lines: 1 });
  await codemode.git_branch({ repo_path, branch_type: "local", contains: "abc123" });
  return status;
}
