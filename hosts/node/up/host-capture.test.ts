import { describe, expect, it } from 'vitest';
import { capturedInSave, planHostCapture, planHostCaptureRemoval } from './host-capture.ts';

const SAVE_WITH = `*nat
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:WEFT_UP_OUTPUT - [0:0]
-A OUTPUT -j WEFT_UP_OUTPUT
-A OUTPUT -j WEFT_UP_OUTPUT
-A WEFT_UP_OUTPUT -d 240.240.0.10/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 15001
COMMIT`;

describe('planHostCapture', () => {
  it('redirects each IPv4 service address and port once, and adds the jump when missing', () => {
    const { plan, skipped } = planHostCapture({ proxyPort: 15001, targets: [{ ip: '240.240.0.10', port: 80 }, { ip: '240.240.0.10', port: 80 }, { ip: '10.0.0.1', port: 9080 }, { ip: 'fd00::1', port: 80 }] });
    expect(plan.split('\n')).toEqual([
      '*nat',
      ':WEFT_UP_OUTPUT - [0:0]',
      '-A WEFT_UP_OUTPUT -d 240.240.0.10/32 -p tcp --dport 80 -j REDIRECT --to-ports 15001',
      '-A WEFT_UP_OUTPUT -d 10.0.0.1/32 -p tcp --dport 9080 -j REDIRECT --to-ports 15001',
      '-I OUTPUT 1 -j WEFT_UP_OUTPUT',
      'COMMIT',
      '',
    ]);
    expect(skipped).toBe(1);
  });

  it('does not add a second jump, and an empty target list leaves an empty chain', () => {
    const { plan } = planHostCapture({ proxyPort: 15001, targets: [] }, SAVE_WITH);
    expect(plan).toBe('*nat\n:WEFT_UP_OUTPUT - [0:0]\nCOMMIT\n');
  });

  it('refuses a bad port', () => {
    expect(() => planHostCapture({ proxyPort: 0, targets: [] })).toThrow(/invalid port/);
  });
});

describe('planHostCaptureRemoval', () => {
  it('deletes every jump and the chain', () => {
    expect(planHostCaptureRemoval(SAVE_WITH)).toBe('*nat\n-D OUTPUT -j WEFT_UP_OUTPUT\n-D OUTPUT -j WEFT_UP_OUTPUT\n-F WEFT_UP_OUTPUT\n-X WEFT_UP_OUTPUT\nCOMMIT\n');
  });
  it('is empty where nothing was installed', () => {
    expect(planHostCaptureRemoval('*nat\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n')).toBe('');
  });
});

describe('capturedInSave', () => {
  it('lists the redirected addresses as iptables-save prints them', () => {
    expect(capturedInSave(SAVE_WITH)).toEqual(['240.240.0.10:80']);
  });
});
