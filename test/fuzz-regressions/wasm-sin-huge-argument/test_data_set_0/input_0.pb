
Bin0JDÞHî