interface SetHeadersInput {
  headers: {
    /**
     * Keys matching `^X-`.
     * Keys matching `^X-Count-`.
     */
    [key: string]: string | number;
  };
}
/**
 * Each method calls one tool and returns a Promise. A tool error rejects it with an Error carrying the tool's message.
 * Promise<unknown> resolves to the tool's structuredContent if present, else its text content parsed as JSON when it parses, else the raw text.
 */
declare const codemode: {
  /** Set HTTP headers. */
  set_headers(input: SetHeadersInput): Promise<unknown>;
};
