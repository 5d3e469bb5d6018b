T(err)
