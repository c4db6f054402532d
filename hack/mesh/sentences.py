#!/usr/bin/env python3
"""Stands in for the course's image releasepraqma/sentences (no image can be pulled here).

The real mesh's node (hack/harness/node) runs this for that image, in the pod's network namespace
behind its sidecar. In `api` mode it behaves as the course's api service does: each request it
serves calls the external service (http://httpbin.org/delay/1), and it logs what the course's
students watch with `kubectl logs "$API_POD"`:

    INFO:werkzeug:127.0.0.1 - - [10/Aug/2021 12:07:41] "GET / HTTP/1.1" 200 -
    WARNING:root:Response was: 502
    WARNING:root:Operation 'api' took 306.376ms

With SENTENCES_LOOP_QUERY set (seconds, e.g. 1), it also calls itself that often, as the course's
loop-query script does through the ingress gateway; its own calls go to 127.0.0.1, which Istio's
capture leaves alone, so only the external call passes the sidecar.

Environment: SENTENCE_MODE (api, age, name, sentence; default sentence), SENTENCES_PORT (5000),
SENTENCES_API_URL (http://httpbin.org/delay/1), SENTENCES_LOOP_QUERY (unset: no loop).
"""

import http.client
import http.server
import logging
import os
import random
import sys
import threading
import time
import urllib.error
import urllib.request

PORT = int(os.environ.get("SENTENCES_PORT", "5000"))
MODE = os.environ.get("SENTENCE_MODE", "sentence")
API_URL = os.environ.get("SENTENCES_API_URL", "http://httpbin.org/delay/1")
# The course app's own bound on the external call; Envoy's 15 s route timeout comes first.
CALL_TIMEOUT_SECONDS = 30


def call_external():
    """One GET of API_URL, as the app makes it; returns the HTTP status, or None when none came."""
    try:
        with urllib.request.urlopen(API_URL, timeout=CALL_TIMEOUT_SECONDS) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        logging.warning("Request failed: %s", getattr(error, "reason", error))
        return None


def answer():
    if MODE == "api":
        started = time.monotonic()
        status = call_external()
        logging.warning("Response was: %s", status if status is not None else "none")
        logging.warning("Operation 'api' took %.3fms", (time.monotonic() - started) * 1000)
        return str(status or 0)
    if MODE == "age":
        return str(random.randint(1, 100))
    if MODE == "name":
        return random.choice(["Graham", "John", "Terry", "Eric", "Michael"])
    return "Graham is 42 years"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = answer().encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        # werkzeug's access line, as the course's Flask app prints it.
        logging.getLogger("werkzeug").info(
            '%s - - [%s] "%s" %s -',
            self.address_string(),
            time.strftime("%d/%b/%Y %H:%M:%S"),
            self.requestline,
            args[1] if len(args) > 1 else "-",
        )


def loop_query(interval):
    """Calls the app about every `interval` seconds, one call at a time, for as long as it runs."""
    url = f"http://127.0.0.1:{PORT}/"
    while True:
        started = time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=CALL_TIMEOUT_SECONDS + 5) as response:
                response.read()
        except (urllib.error.URLError, http.client.HTTPException, OSError):
            pass
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


def main():
    # Unbuffered lines, so `kubectl logs --follow` shows each as it happens.
    logging.basicConfig(stream=sys.stderr, level=logging.INFO)
    server = http.server.ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
    server.daemon_threads = True
    interval = os.environ.get("SENTENCES_LOOP_QUERY")
    if interval:
        threading.Thread(target=loop_query, args=(float(interval),), daemon=True).start()
    logging.info("sentences (%s mode) serving on port %d", MODE, PORT)
    server.serve_forever()


if __name__ == "__main__":
    main()
