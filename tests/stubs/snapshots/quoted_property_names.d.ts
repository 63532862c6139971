interface SetEnvInput {
  "content-type": string;
  "2fa"?: boolean;
  "with space"?: string;
  $ok_id?: string;
  class?: string;
  "x\"y"?: string;
}
/**
 * A tool error rejects with an Error holding the tool's message.
 * Promise<unknown> resolves to structuredContent, else to the text parsed as JSON, else the text.
 */
declare const codemode: {
  /**
   * Set environment values.
   * @param input.class - Reserved words are fine as property names.
   */
  set_env(input: SetEnvInput): Promise<unknown>;
};
