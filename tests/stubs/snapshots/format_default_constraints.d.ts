interface SearchLogsInput {
  /** @format date-time */ since?: string;
  /** @default 50 @minimum 1 @maximum 500 */ limit?: number;
  /** @exclusiveMinimum 0 @exclusiveMaximum 1 @multipleOf 0.01 */ ratio?: number;
  /** @minLength 2 @maxLength 64 @pattern ^[a-z]+$ */ query?: string;
  /** @minItems 1 @uniqueItems true */ hosts?: string[];
  /** @deprecated */ old_flag?: boolean;
}
/**
 * A tool error rejects with an Error holding the tool's message.
 * Promise<unknown> resolves to structuredContent, else to the text parsed as JSON, else the text.
 */
declare const codemode: {
  /**
   * Search logs.
   * @param input.since - Start of the window.
   */
  search_logs(input?: SearchLogsInput): Promise<unknown>;
};
