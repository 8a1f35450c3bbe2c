"""Intents about borrowing and saving: personal loans, mortgage prepayment, wealth products, deposit rates."""

from __future__ import annotations

from lmstack.examples.customer_service.intent import Intent

LOAN_INTENTS: tuple[Intent, ...] = (
    Intent(
        id="loan_application",
        name={"zh": "个人贷款申请", "en": "Personal loan application"},
        questions={
            "zh": ("我想贷款{loan_amount}，需要什么条件？", "个人消费贷怎么申请？", "能在{channel}上申请贷款吗？",
                   "贷{loan_amount}一年利息大概多少？", "贷款审批要多久？", "没有房产能申请贷款吗？",
                   "申请{loan_amount}的装修贷需要哪些材料？"),
            "en": ("I'd like to borrow {loan_amount}. What are the requirements?",
                   "How do I apply for a personal loan?", "Can I apply for a loan through {channel}?",
                   "Roughly how much interest would I pay on {loan_amount} over a year?",
                   "How long does loan approval take?", "Can I get a loan without owning property?",
                   "What documents do I need for a {loan_amount} home renovation loan?"),
        },
        answer={
            "zh": "兰亭银行个人消费贷款面向18至60周岁、收入稳定、征信良好的客户，最高可贷30万元，期限最长5年，"
                  "年化利率以审批结果为准。您可在手机银行“贷款”频道在线申请，一般1至3个工作日内完成审批；"
                  "大额或有特定用途的贷款需提供收入证明和用途材料。",
            "en": "Lanting Bank personal loans are open to customers aged 18 to 60 with a stable income and a "
                  "good credit record, up to 300,000 yuan over at most 5 years; the annual rate depends on "
                  "approval. Apply in the Loans section of the app; approval usually takes 1 to 3 working days. "
                  "Larger loans or loans for a set purpose need proof of income and of the purpose.",
        },
        facts={
            "zh": ("兰亭银行个人消费贷款年化利率最低{loan_rate}起，具体以审批结果为准。",
                   "自{date}起，客户可通过{channel}在线申请最高{loan_amount}的消费贷款。",
                   "贷款资金不得用于购房、投资股票和理财产品。"),
            "en": ("Lanting Bank personal loans start from an annual rate of {loan_rate}, subject to approval.",
                   "From {date}, customers can apply online through {channel} for consumer loans of up to "
                   "{loan_amount}.",
                   "Loan money may not be used to buy property, shares or wealth products."),
        },
    ),
    Intent(
        id="mortgage_prepayment",
        name={"zh": "房贷提前还款", "en": "Mortgage prepayment"},
        questions={
            "zh": ("房贷想提前还{prepay_amount}，怎么申请？", "提前还房贷有违约金吗？", "房贷提前还款要预约吗？",
                   "提前还一部分房贷后，月供会变吗？", "能在{channel}上申请提前还贷吗？", "房贷可以全部提前结清吗？",
                   "提前还{prepay_amount}是缩短年限划算还是减少月供划算？"),
            "en": ("I want to prepay {prepay_amount} on my mortgage. How do I apply?",
                   "Is there a penalty for paying off my mortgage early?",
                   "Do I need to book a mortgage prepayment in advance?",
                   "Will my monthly payment change after a partial prepayment?",
                   "Can I request an early repayment through {channel}?", "Can I pay off my whole mortgage early?",
                   "If I prepay {prepay_amount}, is it better to shorten the term or lower the monthly payment?"),
        },
        answer={
            "zh": "您可在兰亭银行手机银行“贷款-提前还款”中预约，部分提前还款每次不低于1万元，也可全部结清。"
                  "还款满1年后提前还款免收违约金。部分还款后可选择缩短期限或减少月供，"
                  "缩短期限总利息更少。预约成功后请在约定日前将资金存入还款账户。",
            "en": "Book the prepayment in the Lanting Bank app under Loans > Early Repayment; a partial "
                  "prepayment must be at least 10,000 yuan, or you can pay off the whole loan. After the first "
                  "year there is no penalty. After a partial prepayment you can shorten the term or lower the "
                  "monthly payment; shortening the term saves more interest. Put the money in your repayment "
                  "account before the agreed date.",
        },
        facts={
            "zh": ("兰亭银行{city}分行提醒：房贷提前还款需提前预约，预约日期以系统排期为准。",
                   "现行首套住房贷款利率为{loan_rate}，存量房贷利率按相关规定调整。"),
            "en": ("Lanting Bank {city} Branch reminds customers that mortgage prepayments must be booked in "
                   "advance.",
                   "The current first-home mortgage rate is {loan_rate}; existing loans are repriced under the "
                   "rules."),
        },
    ),
    Intent(
        id="wealth_products",
        name={"zh": "理财产品", "en": "Wealth management products"},
        questions={
            "zh": ("现在有什么稳健的理财产品？", "理财产品最低多少钱起买？", "在{channel}上怎么买理财？",
                   "理财产品能提前赎回吗？", "理财收益是保本的吗？", "买理财需要做风险评估吗？",
                   "有没有期限{term}左右的理财？"),
            "en": ("What low-risk wealth products do you have?", "What's the minimum amount for a wealth product?",
                   "How do I buy wealth products through {channel}?", "Can I redeem a wealth product early?",
                   "Are the returns on wealth products guaranteed?",
                   "Do I need a risk assessment before investing?",
                   "Do you have a wealth product with a {term} term?"),
        },
        answer={
            "zh": "兰亭银行理财产品可在手机银行“理财”频道购买，多数产品1万元起购，购买前需完成风险承受能力评估。"
                  "理财产品不保本，过往业绩不代表未来收益；封闭期内一般不能赎回，开放式产品可在开放日赎回。"
                  "理财非存款，产品有风险，投资须谨慎。",
            "en": "Lanting Bank wealth products can be bought in the Wealth section of the app; most start at "
                  "10,000 yuan, and you must complete a risk assessment first. Returns are not guaranteed and "
                  "past performance is no guide to the future. Closed-end products cannot usually be redeemed "
                  "early; open-ended ones can be redeemed on open days. Wealth products are not deposits and "
                  "carry risk.",
        },
        facts={
            "zh": ("兰亭银行理财产品“{wealth_product}”于{date}开始募集，1万元起购。",
                   "理财非存款，产品有风险，投资须谨慎。",
                   "“{wealth_product}”为中低风险产品，适合风险评估为稳健型及以上的客户。"),
            "en": ("Lanting Bank's wealth product {wealth_product} opens for subscription on {date}, from "
                   "10,000 yuan.",
                   "Wealth products are not deposits; they carry risk.",
                   "{wealth_product} is a low-to-medium risk product for customers rated balanced or above."),
        },
    ),
    Intent(
        id="deposit_rates",
        name={"zh": "存款利率", "en": "Deposit interest rates"},
        questions={
            "zh": ("{term}定期存款利率是多少？", "现在存{term}定期划算吗？", "{term}的大额存单利率高吗？",
                   "{term}定期能提前取出来吗？", "网上存{term}定期和柜台利率一样吗？"),
            "en": ("What's the interest rate on a {term} fixed deposit?", "Is a {term} fixed deposit worth it now?",
                   "Do {term} large-denomination CDs pay more?", "Can I withdraw a {term} fixed deposit early?",
                   "Is the {term} deposit rate the same online and at the counter?"),
        },
        answer={
            "zh": "兰亭银行{term}定期存款的最新利率请以手机银行“存款”频道和网点公告为准，"
                  "线上和柜台执行同一利率，20万元起存的大额存单利率略高。定期存款可以提前支取，"
                  "提前支取部分按活期利率计息。",
            "en": "The latest rate for a {term} fixed deposit at Lanting Bank is shown in the Deposits section of "
                  "the app and in branch notices; online and counter rates are the same, and large-denomination "
                  "CDs from 200,000 yuan pay a little more. You can withdraw early, but the amount withdrawn "
                  "earns the demand deposit rate.",
        },
        facts={
            "zh": ("兰亭银行自{date}起调整人民币存款挂牌利率，{term}定期存款利率以最新公告为准。",
                   "大额存单20万元起存，可在手机银行转让，流动性优于普通定期存款。"),
            "en": ("Lanting Bank adjusts its posted yuan deposit rates from {date}; see the latest notice for the "
                   "{term} rate.",
                   "Large-denomination CDs start at 200,000 yuan and can be transferred in the app."),
        },
    ),
)
