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
 * A tool error rejects with an Error holding the tool's message.
 * Promise<unknown> resolves to structuredContent, else to the text parsed as JSON, else the text.
 */
declare const codemode: {
  /** Set HTTP headers. */
  set_headers(input: SetHeadersInput): Promise<unknown>;
};
