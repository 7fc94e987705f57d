"""The weekly review as a file to mail (HTML, or PDF printed by Chromium), and its command line."""
