package crypto

import "filippo.io/age"

// IDHashName names the keyed ID function in the repository config.
const IDHashName = "blake3-keyed"

// PlainSize inverts SealedSize: the plaintext length of a DataKey seal of
// sealedSize bytes, or -1 when no plaintext seals to that size.
func PlainSize(sealedSize int64) int64 {
	payload := sealedSize - HeaderSize
	if payload < tagSize {
		return -1
	}
	chunks := (payload + encChunkSize - 1) / encChunkSize
	n := payload - chunks*tagSize
	if n < 0 || SealedSize(n) != sealedSize {
		return -1
	}
	return n
}

// Recipients returns the public recipients of the identity's native age
// keys (X25519 and hybrid), so a repository can be created for an existing
// identity file.
func (id *Identity) Recipients() []*Recipient {
	var out []*Recipient
	for _, i := range id.ids {
		switch k := i.(type) {
		case *age.X25519Identity:
			out = append(out, &Recipient{r: k.Recipient(), kind: KindX25519, str: k.Recipient().String()})
		case *age.HybridIdentity:
			out = append(out, &Recipient{r: k.Recipient(), kind: KindHybrid, str: k.Recipient().String()})
		}
	}
	return out
}
