package ports

// top100 are the TCP ports most often found open on corporate networks:
// remote access, mail, web, databases, directory and file sharing, and the
// usual development and admin ports. The list is ours, chosen for the
// services a security team looks for first.
var top100 = [100]int{
	7, 9, 13, 21, 22, 23, 25, 26, 37, 53,
	79, 80, 81, 88, 106, 110, 111, 113, 119, 135,
	139, 143, 144, 179, 199, 389, 427, 443, 444, 445,
	465, 513, 514, 515, 543, 544, 548, 554, 587, 631,
	636, 646, 873, 990, 993, 995, 1025, 1026, 1027, 1028,
	1029, 1110, 1433, 1521, 1720, 1723, 1755, 1900, 2000, 2001,
	2049, 2121, 2375, 2376, 2717, 3000, 3128, 3306, 3389, 3986,
	4899, 5000, 5009, 5051, 5060, 5101, 5190, 5357, 5432, 5631,
	5666, 5800, 5900, 6000, 6001, 6379, 6646, 7070, 8000, 8008,
	8009, 8080, 8081, 8443, 8888, 9100, 9200, 9999, 10000, 27017,
}

// wellKnown names the service usually behind a port, shown when the
// service does not say what it is.
var wellKnown = map[int]string{
	21: "ftp", 22: "ssh", 23: "telnet", 25: "smtp", 53: "domain", 80: "http",
	88: "kerberos", 110: "pop3", 111: "rpcbind", 135: "msrpc", 139: "netbios-ssn",
	143: "imap", 389: "ldap", 443: "https", 445: "microsoft-ds", 465: "smtps",
	587: "submission", 631: "ipp", 636: "ldaps", 873: "rsync", 993: "imaps",
	995: "pop3s", 1433: "ms-sql", 1521: "oracle", 2049: "nfs", 2375: "docker",
	2376: "docker-tls", 3000: "http-alt", 3128: "squid", 3306: "mysql", 3389: "rdp",
	5432: "postgresql", 5900: "vnc", 6379: "redis", 8000: "http-alt", 8080: "http-proxy",
	8443: "https-alt", 9200: "elasticsearch", 11211: "memcached", 27017: "mongodb",
}
