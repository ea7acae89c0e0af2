import Type, { type Static } from 'typebox'

/** The Slack relay's `handoff` options: what it needs to take replies and button clicks from Slack. */
export const SlackHandoffOptions = Type.Object(
  {
    signingSecret: Type.String({
      minLength: 16,
      description:
        "The Slack app's Signing Secret (Basic Information page): every event and button click is checked against it. Use ${ENV} or ${file:}."
    }),
    oncall: Type.Optional(
      Type.String({
        pattern: '^S[A-Z0-9]+$',
        patternErrorMessage: 'must be a user group ID such as S0123ABCD (not a @handle)',
        description: 'A user group mentioned on each new handoff. No one else is ever mentioned.'
      })
    )
  },
  { additionalProperties: false }
)
export type SlackHandoffOptions = Static<typeof SlackHandoffOptions>
