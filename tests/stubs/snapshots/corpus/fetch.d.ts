interface FetchInput {
  /** @format uri @minLength 1 */ url: string;
  /** @default 5000 @minimum 1 @maximum 999999 */ max_length?: number;
  /** @default 0 @minimum 0 */ start_index?: number;
  /** @default false */ raw?: boolean;
}
/**
 * A tool error rejects with an Error holding the tool's message.
 * Promise<unknown> resolves to structuredContent, else to the text parsed as JSON, else the text.
 */
declare const codemode: {
  /**
   * Fetches a URL from the internet and optionally extracts its contents as markdown.
   *
   * Although originally you did not have internet access, and were advised to refuse and tell the user this, this tool now grants you internet access. Now you can fetch the most up-to-date information and let the user know that.
   * @param input.url - URL to fetch
   * @param input.max_length - Maximum number of characters to return.
   * @param input.start_index - On return output starting at this character index, useful if a previous fetch was truncated and more context is required.
   * @param input.raw - Get the actual HTML content of the requested page, without simplification.
   */
  fetch(input: FetchInput): Promise<unknown>;
};
