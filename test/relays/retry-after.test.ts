import t from 'tap'
import { parseRetryAfter } from '../../src/relays/retry-after.js'

t.test('Retry-After in seconds, or as an HTTP date read on the given clock', async t => {
  t.equal(parseRetryAfter('7', 0), 7000)
  t.equal(parseRetryAfter(' 1.5 ', 0), 1500)
  t.equal(parseRetryAfter('0', 0), 0)
  // A date is measured from the clock the relay was given, not from the machine's time.
  const at = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')
  t.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', at - 5000), 5000)
  t.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', at + 5000), 0, 'a date passed means now')
  for (const unreadable of [null, undefined, '', '  ', 'soon', '-3'])
    t.equal(parseRetryAfter(unreadable, at), undefined, `${JSON.stringify(unreadable)} says nothing`)
})
