interface GitStatusInput { repo_path: string }
interface GitDiffUnstagedInput { repo_path: string; /** @default 3 */ context_lines?: number }
interface GitDiffStagedInput { repo_path: string; /** @default 3 */ context_lines?: number }
interface GitDiffInput { repo_path: string; target: string; /** @default 3 */ context_lines?: number }
interface GitCommitInput { repo_path: string; message: string }
interface GitAddInput { repo_path: string; /** @minItems 1 */ files: string[] }
interface GitResetInput { repo_path: string }
interface GitLogInput {
  repo_path: string;
  /** @default 10 */ max_count?: number;
  /** @default null */ start_timestamp?: string | null;
  /** @default null */ end_timestamp?: string | null;
}
interface GitCreateBranchInput {
  repo_path: string;
  branch_name: string;
  /** @default null */ base_branch?: string | null;
}
interface GitCheckoutInput { repo_path: string; branch_name: string }
interface GitShowInput { repo_path: string; revision: string }
interface GitBranchInput {
  repo_path: string;
  branch_type: string;
  /** @default null */ contains?: string | null;
  /** @default null */ not_contains?: string | null;
}
/**
 * A tool error rejects with an Error holding the tool's message.
 * Promise<unknown> resolves to structuredContent, else to the text parsed as JSON, else the text.
 */
declare const codemode: {
  /** Shows the working tree status */
  git_status(input: GitStatusInput): Promise<unknown>;
  /** Shows changes in the working directory that are not yet staged */
  git_diff_unstaged(input: GitDiffUnstagedInput): Promise<unknown>;
  /** Shows changes that are staged for commit */
  git_diff_staged(input: GitDiffStagedInput): Promise<unknown>;
  /** Shows differences between branches or commits */
  git_diff(input: GitDiffInput): Promise<unknown>;
  /** Records changes to the repository */
  git_commit(input: GitCommitInput): Promise<unknown>;
  /** Adds file contents to the staging area */
  git_add(input: GitAddInput): Promise<unknown>;
  /** Unstages all staged changes */
  git_reset(input: GitResetInput): Promise<unknown>;
  /**
   * Shows the commit logs
   * @param input.start_timestamp - Start timestamp for filtering commits. Accepts: ISO 8601 format (e.g., '2024-01-15T14:30:25'), relative dates (e.g., '2 weeks ago', 'yesterday'), or absolute dates (e.g., '2024-01-15', 'Jan 15 2024')
   * @param input.end_timestamp - End timestamp for filtering commits. Accepts: ISO 8601 format (e.g., '2024-01-15T14:30:25'), relative dates (e.g., '2 weeks ago', 'yesterday'), or absolute dates (e.g., '2024-01-15', 'Jan 15 2024')
   */
  git_log(input: GitLogInput): Promise<unknown>;
  /** Creates a new branch from an optional base branch */
  git_create_branch(input: GitCreateBranchInput): Promise<unknown>;
  /** Switches branches */
  git_checkout(input: GitCheckoutInput): Promise<unknown>;
  /** Shows the contents of a commit, or of a file or directory given as <revision>:<path> */
  git_show(input: GitShowInput): Promise<unknown>;
  /**
   * List Git branches
   * @param input.repo_path - The path to the Git repository.
   * @param input.branch_type - Whether to list local branches ('local'), remote branches ('remote') or all branches('all').
   * @param input.contains - The commit sha that branch should contain. Do not pass anything to this param if no commit sha is specified
   * @param input.not_contains - The commit sha that branch should NOT contain. Do not pass anything to this param if no commit sha is specified
   */
  git_branch(input: GitBranchInput): Promise<unknown>;
};
