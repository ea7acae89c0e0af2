import Type, { type Static } from 'typebox'

/** The answer GPTBots expects, and the envelope of every error of every route (intake, admin). */
export const Envelope = Type.Object({
  code: Type.Integer(),
  msg: Type.String()
})
export type Envelope = Static<typeof Envelope>
