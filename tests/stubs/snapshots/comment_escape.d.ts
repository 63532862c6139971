interface DangerInput {
  /** @pattern ^[^*]*\/*$ */ glob?: string;
  nested?: {
    /** more *\/ trouble @default "*\/" */
    deep?: string;
  };
}
/**
 * Each method calls one tool and returns a Promise. A tool error rejects it with an Error carrying the tool's message.
 * Promise<unknown> resolves to the tool's structuredContent if present, else its text content parsed as JSON when it parses, else the raw text.
 */
declare const codemode: {
  /**
   * Ends a comment early: *\/ and then /* again.
   * @param input.glob - A glob like src/**\/*.ts
   */
  danger(input?: DangerInput): Promise<unknown>;
};
