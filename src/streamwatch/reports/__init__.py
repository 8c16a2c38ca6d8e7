"""Reports people read: self-contained HTML pages with the plots drawn as inline SVG.

``svg`` draws (pure), ``series`` computes what is drawn (pure), ``page`` assembles a page,
``evidence_page`` and ``replay_page`` are the two reports. No page loads anything from
elsewhere or runs a script, so a report opens offline, in a mail client or a locked-down
browser, and prints as it shows.
"""
