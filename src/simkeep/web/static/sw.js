// The portal's service worker (served as /sw.js so that its scope is the whole site; registered by app.js).
//
// It keeps the app shell: the style sheet, the scripts, the icons and the offline page. Online, every request goes
// to the network as before (the shell's copies are refreshed on the way); offline, a page of the portal opens as
// the offline page, which shows the last status of the subscriber's lines seen on this phone (app.js keeps it in
// localStorage and removes it on sign-out). No page of the portal is ever stored here: personal and payment pages
// are `no-store`, and only the files below are cached. No push notifications: SMS does that.

const SHELL = "simkeep-shell-v1";
const OFFLINE = "/offline";
const FILES = [OFFLINE, "/static/app.css", "/static/app.js", "/static/icons/icon-192.png",
  "/static/icons/icon-512.png", "/static/icons/icon-maskable-512.png", "/static/icons/apple-touch-icon.png"];
// The back office, the API, the provider pages and the docs are not the app: they are left alone entirely.
const NOT_THE_APP = ["/admin", "/api/", "/webhooks/", "/sandbox/", "/docs", "/openapi.json"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((name) => name !== SHELL).map((name) => caches.delete(name))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (NOT_THE_APP.some((prefix) => url.pathname.startsWith(prefix))) return;
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).then((response) => {
      event.waitUntil(offlinePageIn(response.headers.get("Content-Language")));
      return response;
    }).catch(() => caches.match(OFFLINE)));
  } else if (FILES.includes(url.pathname) && !url.search) {
    event.respondWith(fetch(request).then((response) => {
      if (response.ok) {
        const copy = response.clone();
        event.waitUntil(caches.open(SHELL).then((cache) => cache.put(request, copy)));
      }
      return response;
    }).catch(() => caches.match(request)));
  }
});

// The offline page follows the reader's language: when a page comes back in another language than the stored
// offline page (the reader switched), the offline page is fetched again, with the same cookies, in that language.
async function offlinePageIn(language) {
  if (!language) return;
  const cache = await caches.open(SHELL);
  const stored = await cache.match(OFFLINE);
  if (!stored || stored.headers.get("Content-Language") !== language) {
    await cache.add(OFFLINE).catch(() => { /* offline again: the stored one stays */ });
  }
}
