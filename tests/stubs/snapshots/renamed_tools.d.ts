interface GithubCreateIssueV2Input { title: string }
/**
 * A tool error rejects with an Error holding the tool's message.
 * Promise<unknown> resolves to structuredContent, else to the text parsed as JSON, else the text.
 */
declare const codemode: {
  /** A name that needs sanitising. */
  github_create_issue_v2(input: GithubCreateIssueV2Input): Promise<unknown>;
};
