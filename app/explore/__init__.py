"""The Explore tab: an open model's summary, its measured axes and the clickable map."""
