import type { PatchWire } from '../contracts/inventory.ts';

// The two patches of February 2024 (Patch Tuesday 2024-02-13).
// Exchange: CVE-2024-21410 (NTLM relay, CVSS 9.8). Exchange 2019 CU14 (build 15.2.1544.4,
// KB5035606) turns Extended Protection on by default, which is Microsoft's mitigation; servers
// on CU13 with Extended Protection enabled manually count as mitigated too (MSRC advisory).
// Outlook: CVE-2024-21413 "MonikerLink" (Check Point Research), fixed in the February Office
// updates; Microsoft 365 Apps Current Channel Version 2401, build 16.0.17231.20236.
export const PATCH_EXCHANGE = 0;
export const PATCH_OUTLOOK = 1;
export const PATCH_NONE = 255;

export const PATCHES: readonly PatchWire[] = [
  {
    id: 'exchange-2024-02',
    title: 'Exchange Server 2019 CU14 / Extended Protection (CVE-2024-21410)',
    product: 'Microsoft Exchange Server 2019',
    kb: ['KB5035606'],
    cves: ['CVE-2024-21410'],
    appliesTo: { kind: 'server', roles: ['exchange'] },
    minBuild: '15.2.1544.4',
    releasedAt: '2024-02-13T18:00:00.000Z',
  },
  {
    id: 'outlook-2024-02',
    title: 'Outlook security update February 2024 (CVE-2024-21413 "MonikerLink")',
    product: 'Microsoft Outlook (Microsoft 365 Apps)',
    kb: ['KB5002469'],
    cves: ['CVE-2024-21413'],
    appliesTo: { kind: 'client', roles: null },
    minBuild: '16.0.17231.20236',
    releasedAt: '2024-02-13T18:00:00.000Z',
  },
];

// Builds shown in the inventory: before / after the patch, and the old image the freshly
// rebuilt clients in the Südverband came back with.
export const BUILDS = {
  exchangeBefore: '15.2.1258.28', // Exchange 2019 CU13 + Nov 2023 SU
  exchangeAfter: '15.2.1544.4',
  outlookBefore: '16.0.17126.20132',
  outlookAfter: '16.0.17231.20236',
  outlookOldImage: '16.0.16827.20166',
  server2019: '10.0.17763.5458', // February 2024 cumulative update (KB5034768)
  server2022: '10.0.20348.2322', // February 2024 cumulative update (KB5034770)
} as const;
