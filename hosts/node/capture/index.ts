/**
 * Transparent capture for the Node host (design.md 3, capture-in-node.md): SO_ORIGINAL_DST, in-pod
 * listeners made inside a pod's network namespace, the pod's iptables rules, and PodCapture, which
 * enrolls and removes a pod. Nothing here is loaded unless capture is on.
 */
export { originalDst, originalDstString, originalDstAvailable, addonCandidates, socketFd, type OriginalDst } from './original-dst.ts';
export { openPodListeners, type OpenPodListenersOptions, type PodListener, type PodListenerSpec, type PodListeners } from './pod-listeners.ts';
export { runNetnsHelper, CONNECT_SCRIPT, LISTEN_SCRIPT, type HelperHandle, type HelperOptions } from './netns-helper.ts';
export { installCapture, removeCapture, captureInstalled, planCaptureRules, planCaptureRemoval, captureInSave, OUTPUT_CHAIN, PREROUTING_CHAIN, PROXY_MARK, type CaptureOptions, type IpFamily } from './iptables.ts';
export { netnsIpv6, nodeAddressTowards, type NetnsIpv6 } from './node-address.ts';
export { PodCapture, type CapturedPod, type CaptureKind, type PodCaptureOptions } from './pod-capture.ts';
