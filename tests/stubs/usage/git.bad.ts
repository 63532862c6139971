async function agent() {
  await codemode.git_status({ path: "/srv/repo" }); // TS2353
  await codemode.git_add({ repo_path: "/srv/repo", files: "README.md" }); // TS2322
  await codemode.git_log({ repo_path: "/srv/repo", max_count: "5" }); // TS2322
  await codemode.git_commit({ repo_path: "/srv/repo" }); // TS2345
  const status = await codemode.git_status({ repo_path: "/srv/repo" });
  status.toUpperCase(); // TS18046
}
