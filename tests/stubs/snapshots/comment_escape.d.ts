interface DangerInput {
  "*/"?: string;
  /** @pattern ^[^*]*\/*$ */ glob?: string;
  nested?: {
    /** more *\/ trouble @default "*\/" */
    deep?: string;
  };
}
/**
 * A tool error rejects with an Error holding the tool's message.
 * Promise<unknown> resolves to structuredContent, else to the text parsed as JSON, else the text.
 */
declare const codemode: {
  /**
   * Ends a comment early: *\/ and then /* again.
   * @param input.*\/ - A key that ends a comment.
   * @param input.glob - A glob like src/**\/*.ts
   */
  danger(input?: DangerInput): Promise<unknown>;
};
