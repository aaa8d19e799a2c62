"""From list to action: which action each open case gets, campaigns with a random control group,
and what they earned (see the README, "Actions and campaigns").

- ``choice``: the action per case by expected net yield under the office's capacities;
- ``campaign``: drawing a campaign (stratified randomization), its register and mail-merge file;
- ``effects``: the difference-in-means estimator the campaign_effects mart computes in SQL;
- ``texts``: the Spanish (and English) words of each action and its legal basis.
"""
