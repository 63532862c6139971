interface CreateIssueInput { repo: string; title: string; body?: string; draft?: boolean; labels: unknown }
/**
 * A tool error rejects with an Error holding the tool's message.
 * Promise<unknown> resolves to structuredContent, else to the text parsed as JSON, else the text.
 */
declare const codemode: {
  /**
   * Create an issue in a repository.
   * @param input.repo - owner/name
   * @param input.body - Markdown body.
   */
  create_issue(input: CreateIssueInput): Promise<unknown>;
};
