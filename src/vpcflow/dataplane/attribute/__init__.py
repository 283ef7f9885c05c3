"""Attribution (verb): which ENIs observe a packet, and in which direction (spec 2.6/2.7), planned per flow."""
