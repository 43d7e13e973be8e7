"""Public data-set layouts (GenImage folders, POSE/OSMA annotation files) as zoo-like splits."""
