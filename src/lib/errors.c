#include "juggle.h"

JG_EXPORT const char *jg_strerror(int err)
{
	switch ((enum jg_err)err) {
	case JG_OK: return "success";
	case JG_EINVAL: return "invalid argument";
	case JG_ENOMEM: return "out of memory";
	case JG_EURL: return "malformed URL";
	case JG_ESCHEME: return "scheme not allowed (only http and https)";
	case JG_EDUPLICATE: return "duplicate URL";
	case JG_ECANCELED: return "cancelled";
	case JG_EDNS: return "name resolution failed";
	case JG_ECONNECT: return "could not connect";
	case JG_ETIMEOUT: return "timed out";
	case JG_EHTTP: return "HTTP error status";
	case JG_ETLS: return "TLS error";
	case JG_ETOOLARGE: return "body too large";
	case JG_EREDIRECT: return "bad redirect";
	case JG_ETRANSFER: return "transfer failed";
	case JG_EIO: return "could not save the file";
	case JG_EDRAINING: return "session is draining";
	case JG_ETOOLONG: return "URL too long";
	case JG_EINTERNAL: return "internal library error";
	case JG_EWORKER: return "worker process died";
	case JG_EPOOL: return "no worker process";
	case JG_EBUSY: return "the output directory is in use";
	case JG_ENAME: return "that file name is another book's";
	case JG_EROBOTS: return "disallowed by robots.txt";
	case JG_EPROXY: return "proxy failure";
	}
	return "unknown error";
}

JG_EXPORT const char *jg_err_name(int err)
{
	switch ((enum jg_err)err) {
	case JG_OK: return "ok";
	case JG_EINVAL: return "invalid";
	case JG_ENOMEM: return "no_memory";
	case JG_EURL: return "url";
	case JG_ESCHEME: return "scheme";
	case JG_EDUPLICATE: return "duplicate";
	case JG_ECANCELED: return "cancelled";
	case JG_EDNS: return "dns";
	case JG_ECONNECT: return "connect";
	case JG_ETIMEOUT: return "timeout";
	case JG_EHTTP: return "http";
	case JG_ETLS: return "tls";
	case JG_ETOOLARGE: return "too_large";
	case JG_EREDIRECT: return "redirect";
	case JG_ETRANSFER: return "transfer";
	case JG_EIO: return "io";
	case JG_EDRAINING: return "draining";
	case JG_ETOOLONG: return "too_long";
	case JG_EINTERNAL: return "internal";
	case JG_EWORKER: return "worker";
	case JG_EPOOL: return "pool";
	case JG_EBUSY: return "busy";
	case JG_ENAME: return "name";
	case JG_EROBOTS: return "robots";
	case JG_EPROXY: return "proxy";
	}
	return "unknown";
}
