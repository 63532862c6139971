interface CreateIssueInput { repo: string; title: string; body?: string; draft?: boolean; labels: unknown }
/**
 * Each method calls one tool and returns a Promise. A tool error rejects it with an Error carrying the tool's message.
 * Promise<unknown> resolves to the tool's structuredContent if present, else its text content parsed as JSON when it parses, else the raw text.
 */
declare const codemode: {
  /**
   * Create an issue in a repository.
   * @param input.repo - owner/name
   * @param input.body - Markdown body.
   */
  create_issue(input: CreateIssueInput): Promise<unknown>;
};
