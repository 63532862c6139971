interface EchoInput { message: string }
interface GetAnnotatedMessageInput {
  messageType: "error" | "success" | "debug";
  /** @default false */ includeImage?: boolean;
}
type GetEnvInput = Record<string, never>;
interface GetResourceLinksInput { /** @default 3 @minimum 1 @maximum 10 */ count?: number }
interface GetResourceReferenceInput {
  /** @default "Text" */ resourceType?: "Text" | "Blob";
  /** @default 1 */ resourceId?: number;
}
interface GetStructuredContentInput { location: "New York" | "Chicago" | "Los Angeles" }
interface GetStructuredContentOutput {
  /** Temperature in celsius */
  temperature: number;
  /** Weather conditions description */
  conditions: string;
  /** Humidity percentage */
  humidity: number;
}
interface GetSumInput { a: number; b: number }
type GetTinyImageInput = Record<string, never>;
interface GzipFileAsResourceInput {
  /** @default "README.md.gz" */ name?: string;
  /**
   * @format uri
   * @default "https://raw.githubusercontent.com/modelcontextprotocol/servers/refs/heads/main/README.md"
   */
  data?: string;
  /** @default "resourceLink" */ outputType?: "resourceLink" | "resource";
}
type ToggleSimulatedLoggingInput = Record<string, never>;
type ToggleSubscriberUpdatesInput = Record<string, never>;
interface TriggerLongRunningOperationInput { /** @default 10 */ duration?: number; /** @default 5 */ steps?: number }
interface SimulateResearchQueryInput { topic: string; /** @default false */ ambiguous?: boolean }
/**
 * A tool error rejects with an Error holding the tool's message.
 * Promise<unknown> resolves to structuredContent, else to the text parsed as JSON, else the text.
 */
declare const codemode: {
  /**
   * Echoes back the input string
   * @param input.message - Message to echo
   */
  echo(input: EchoInput): Promise<unknown>;
  /**
   * Demonstrates how annotations can be used to provide metadata about content.
   * @param input.messageType - Type of message to demonstrate different annotation patterns
   * @param input.includeImage - Whether to include an example image
   */
  get_annotated_message(input: GetAnnotatedMessageInput): Promise<unknown>;
  /** Returns all environment variables, helpful for debugging MCP server configuration */
  get_env(input?: GetEnvInput): Promise<unknown>;
  /**
   * Returns up to ten resource links that reference different types of resources
   * @param input.count - Number of resource links to return (1-10)
   */
  get_resource_links(input?: GetResourceLinksInput): Promise<unknown>;
  /**
   * Returns a resource reference that can be used by MCP clients
   * @param input.resourceId - ID of the text resource to fetch
   */
  get_resource_reference(input?: GetResourceReferenceInput): Promise<unknown>;
  /**
   * Returns structured content along with an output schema for client data validation
   * @param input.location - Choose city
   */
  get_structured_content(input: GetStructuredContentInput): Promise<GetStructuredContentOutput>;
  /**
   * Returns the sum of two numbers
   * @param input.a - First number
   * @param input.b - Second number
   */
  get_sum(input: GetSumInput): Promise<unknown>;
  /** Returns a tiny MCP logo image. */
  get_tiny_image(input?: GetTinyImageInput): Promise<unknown>;
  /**
   * Compresses a single file using gzip compression. Depending upon the selected output type, returns either the compressed data as a gzipped resource or a resource link, allowing it to be downloaded in a subsequent request during the current session.
   * @param input.name - Name of the output file
   * @param input.data - URL or data URI of the file content to compress
   * @param input.outputType - How the resulting gzipped file should be returned. 'resourceLink' returns a link to a resource that can be read later, 'resource' returns a full resource object.
   */
  gzip_file_as_resource(input?: GzipFileAsResourceInput): Promise<unknown>;
  /** Toggles simulated, random-leveled logging on or off. */
  toggle_simulated_logging(input?: ToggleSimulatedLoggingInput): Promise<unknown>;
  /** Toggles simulated resource subscription updates on or off. */
  toggle_subscriber_updates(input?: ToggleSubscriberUpdatesInput): Promise<unknown>;
  /**
   * Demonstrates a long running operation with progress updates.
   * @param input.duration - Duration of the operation in seconds
   * @param input.steps - Number of steps in the operation
   */
  trigger_long_running_operation(input?: TriggerLongRunningOperationInput): Promise<unknown>;
  /**
   * Simulates a deep research operation that gathers, analyzes, and synthesizes information. Demonstrates MCP task-based operations with progress through multiple stages. If 'ambiguous' is true and client supports elicitation, sends an elicitation request for clarification.
   * @param input.topic - The research topic to investigate
   * @param input.ambiguous - Simulate an ambiguous query that requires clarification (triggers input_required status)
   */
  simulate_research_query(input: SimulateResearchQueryInput): Promise<unknown>;
};
