import { findDuplicateKey } from './duplicate-keys';

/** Both ways in: the full scan, and the counting shortcut given what JSON.parse made of the text (the same answer). */
const scan = (text: string) => {
  const alone = findDuplicateKey(Buffer.from(text));
  expect(findDuplicateKey(Buffer.from(text), JSON.parse(text))).toEqual(alone);
  return alone;
};

describe('duplicate JSON keys', () => {
  it('finds a key given twice at the top, naming it and where', () => {
    expect(scan('{"event_name":"shipment:created","event_data":{},"event_name":"shipment:cancelled"}')).toEqual({ key: 'event_name', path: '$' });
  });

  it('finds one at any depth, inside arrays too', () => {
    expect(scan('{"event_data":{"delivery_location":{"city":"Austin","city":"Dallas"}}}')).toEqual({ key: 'city', path: '$.event_data.delivery_location' });
    expect(scan('{"a":[{"x":1},{"x":2,"y":[0,{"k":1,"k":2}]}]}')).toEqual({ key: 'k', path: '$.a[1].y[1]' });
  });

  it('compares keys after unescaping, and names odd keys quoted', () => {
    expect(scan('{"event_name":1,"\\u0065vent_name":2}')).toEqual({ key: 'event_name', path: '$' });
    expect(scan('{"a b":{"é":1,"\\u00e9":2}}')).toEqual({ key: 'é', path: '$["a b"]' });
  });

  it('accepts equal keys in different objects, and keys inside string values', () => {
    expect(scan('{"a":{"id":1},"b":{"id":1},"c":[{"id":1},{"id":2}]}')).toBeNull();
    expect(scan('{"note":"\\"note\\": 1, \\"note\\": 2","x":"{\\"y\\":1,\\"y\\":2}"}')).toBeNull();
    expect(scan('{"a":"\\\\","a2":"x"}')).toBeNull();
    expect(scan('[1,{"a":1},"a","a"]')).toBeNull();
    expect(scan('{}')).toBeNull();
    expect(scan('  { "k" : 1 , "l" : { } }  ')).toBeNull();
  });

  it('counts keys, not colons or quotes inside strings, for the shortcut', () => {
    expect(scan(String.raw`{"a:":"b:","c\\":{"d" : ":"},"e":[":",{"f":"\"g\":"}]}`)).toBeNull();
    expect(scan('{"a" :1, "a"\n:2}')).toEqual({ key: 'a', path: '$' });
  });

  it('reads a Buffer that is a slice of a larger one', () => {
    const big = Buffer.from('xxxx{"a":1,"a":2}yyyy');
    expect(findDuplicateKey(big.subarray(4, big.length - 4))).toEqual({ key: 'a', path: '$' });
  });

  it('finds nothing in a pretty-printed event', () => {
    const event = { event_name: 'shipment:created', event_data: { shipment_id: 's', medication_orders: ['a', 'b'], delivery_location: { city: 'Austin', state: 'TX' } } };
    expect(scan(JSON.stringify(event, null, 2))).toBeNull();
  });
});
