type PingInput = Record<string, never>;
/**
 * A tool error rejects with an Error holding the tool's message.
 * Promise<unknown> resolves to structuredContent, else to the text parsed as JSON, else the text.
 */
declare const codemode: {
  /** Check the service is up. */
  ping(input?: PingInput): Promise<unknown>;
};
