/** A postal address. */
interface Address { street: string; city: string; zip?: string }
interface Money { amount: number; /** @minLength 3 @maxLength 3 */ currency: string }
/** @format date */
type CreateOrderDate = string;
interface CreateOrderInput {
  billing: Address;
  shipping?: Address;
  total: Money;
  deliver_on?: CreateOrderDate;
  external?: unknown;
  dangling?: unknown;
}
/**
 * A tool error rejects with an Error holding the tool's message.
 * Promise<unknown> resolves to structuredContent, else to the text parsed as JSON, else the text.
 */
declare const codemode: {
  /**
   * Create an order.
   * @param input.shipping - Where to send it.
   */
  create_order(input: CreateOrderInput): Promise<unknown>;
};
