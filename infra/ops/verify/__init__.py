"""``tenantctl verify``: the acceptance suite generated from a client's configuration, run in
headless Chromium against the release its stack serves, with its evidence bundle."""
