"""Chinese labels of the registry's coded values, shared by queues, search and case pages."""

CHANNELS = {"letter": "来信", "visit": "来访", "phone": "来电", "web": "网络"}
CATEGORIES = {"accusation": "检举控告", "appeal": "申诉", "suggestion": "批评建议", "out_of_scope": "业务范围外",
              "no_substance": "无实质内容", "higher_level": "属上级管辖", "lower_level": "属下级管辖",
              "accuses_principal": "反映本机关主要负责人"}
STATUSES = {"registered": "已登记", "classified": "已分流", "assigned": "已交办", "handled": "已报结",
            "archived": "已归档"}
