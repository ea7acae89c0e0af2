import type { RelayMessage } from '../../src/message.js'
import type { DeliveryContext, DeliveryOutcome, SingleRelay } from '../../src/relays/types.js'

export type Script = (message: RelayMessage, context: DeliveryContext) => DeliveryOutcome | Promise<DeliveryOutcome>

/** A relay that records what it was given and answers as its script says (delivered by default). */
export class FakeRelay implements SingleRelay {
  readonly delivered: RelayMessage[] = []
  readonly attempts: { message: RelayMessage; attempt: number }[] = []
  constructor(public script: Script = () => ({ status: 'delivered' })) {}

  async deliver(message: RelayMessage, context: DeliveryContext): Promise<DeliveryOutcome> {
    this.attempts.push({ message, attempt: context.attempt })
    const outcome = await this.script(message, context)
    if (outcome.status === 'delivered') this.delivered.push(message)
    return outcome
  }

  /** Message ids delivered for one conversation, in delivery order. */
  idsOf(conversationId: string): string[] {
    return this.delivered.filter(m => m.conversationId === conversationId).map(m => m.messageId)
  }
}
