// Where the client finds the chatting API.
//
// Both default to the page's own origin, which is right when the local gateway
// (`chatting`) serves this folder:
//   httpBase: ''  -> requests go to /auth/... on this origin
//   wsUrl:    ''  -> the WebSocket is ws(s)://<this host>/ws
//
// For a deployed API (API Gateway HTTP API + WebSocket API), set them, e.g.
//   export const httpBase = 'https://abc123.execute-api.eu-west-1.amazonaws.com';
//   export const wsUrl = 'wss://def456.execute-api.eu-west-1.amazonaws.com/prod';
// and allow those origins in the page's Content-Security-Policy (connect-src).
// httpBase has no trailing slash; the client appends ?token=<accessToken> to wsUrl.
export const httpBase = '';
export const wsUrl = '';
