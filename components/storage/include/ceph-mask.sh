# The Ceph steps' output is secret, but their stderr is shown (progress, and why a step
# failed): they never print a key there, and anything shaped like a cephx key that a
# Ceph tool prints is masked on its way out all the same.
exec 2> >(sed -u -E 's#AQ[A-Za-z0-9+/]{38}==#<cephx key>#g' >&2)
