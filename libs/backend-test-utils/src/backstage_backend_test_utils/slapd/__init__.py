"""A real OpenLDAP `slapd` on a loopback port for tests, seeded with a small company.

```python
with run_slapd(tmp_path) as slapd:
    slapd.url, slapd.admin_dn, slapd.admin_password   # bind as the directory's admin
    slapd.modify("dn: uid=bob,ou=people,dc=acme,dc=org\\nchangetype: delete\\n")
```

`acme.ldif` (suffix `dc=acme,dc=org`): users alice, bob, carol and dave under
`ou=people`; groups backend (alice, bob), frontend (carol), engineering (the groups backend
and frontend) and management (dave, alice) under `ou=groups`, `groupOfNames` with `member`;
the memberof overlay fills each user's and group's `memberOf`. Needs Debian's `slapd` and
`ldap-utils`.
"""

from backstage_backend_test_utils.slapd._slapd import ADMIN_DN, SUFFIX, Slapd, run_slapd

__all__ = ["ADMIN_DN", "SUFFIX", "Slapd", "run_slapd"]
